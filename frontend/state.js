// The state of the page, held in a small store: read it with get(key), change it with set({key: value}),
// and subscribe to the keys a section shows. No DOM: `node --test` checks it (tests/frontend/).
//
// Values are replaced, never changed in place, so a listener can compare the new value with the old one.
// set() assigns every key it is given before it tells anyone, and each listener is told once per set().

/** The keys of the page's state and their values before anything is loaded. */
export function initialState() {
  return {
    sources: [], // the index, as GET /sources returns it
    indexed: null, // false before the first reindex
    open: null, // {source, rate, duration, inFrame, outFrame} of the source in the player
    editing: null, // 0-based position of the draft clip the player is editing, or null
    clips: [], // the draft: [{filename, start, end}]
    clipErrors: new Map(), // 1-based position -> message from the server
  };
}

export function createStore(initial = initialState()) {
  const values = { ...initial };
  const listeners = []; // {keys, listener}

  const known = (key) => {
    if (!Object.hasOwn(values, key)) throw new RangeError(`no such state: ${key}`);
  };

  return {
    get(key) {
      known(key);
      return values[key];
    },

    /** Assign the given keys, then call once every listener of a key whose value changed. */
    set(changes) {
      const previous = {};
      for (const [key, value] of Object.entries(changes)) {
        known(key);
        if (Object.is(values[key], value)) continue;
        previous[key] = values[key];
        values[key] = value;
      }
      const changed = Object.keys(previous);
      if (!changed.length) return;
      for (const { keys, listener } of listeners.slice()) {
        if (keys.some((key) => changed.includes(key))) listener(values, previous);
      }
    },

    /** Call `listener(values, previous)` after each set() that changes one of `keys`; returns the unsubscribe. */
    subscribe(keys, listener) {
      const list = [].concat(keys);
      list.forEach(known);
      const entry = { keys: list, listener };
      listeners.push(entry);
      return () => {
        const at = listeners.indexOf(entry);
        if (at >= 0) listeners.splice(at, 1);
      };
    },
  };
}

/** The page's store. */
export const store = createStore();

/** The indexed source of that name, or null. */
export function sourceByName(sources, filename) {
  return sources.find((source) => source.filename === filename) ?? null;
}
