import { describeFreshApp } from './fresh-app.js';

// The CommonJS app of `nest new --type cjs`: test/package/fresh-app.ts says what is checked.
describeFreshApp('cjs');
