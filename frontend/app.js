// Kalinsky's web UI: browse the sources, mark clips in a player, assemble them, follow the renders.
// No framework, no build step. Each section is a module of its own; the state they share is in state.js.
// This module only starts them and connects the draft with the renders.

import { renderFinished, startDraft, useClipsOf } from "./draft.js";
import { startLibrary } from "./library.js";
import { startPlayer } from "./player.js";
import { renderStarted, startRenders } from "./renders.js";

startPlayer();
startDraft({ onRenderStarted: renderStarted });
startLibrary();
startRenders({ useClips: useClipsOf, onFinished: renderFinished });
