import { describeFreshApp } from './fresh-app.js';

// The ESM app, the Nest 12 default: test/package/fresh-app.ts says what is checked.
describeFreshApp('esm');
