"""`kalinsky`: the service's work from a terminal, over the same composition root as the web app.

    main.py        the command group, `serve` and `init-db`
    library.py     `reindex`, `sources`
    assemblies.py  `assemble`, `show`, `export` and the hidden `render` that background renders run
    session.py     settings, the container's use cases for one command, errors as one-line messages
    text.py        durations, sizes, states for people

Commands import the web stack and the adapters only when they run, so `kalinsky --help` stays quick.
"""
