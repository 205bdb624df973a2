import { node22 } from '../support/node22.js';
import { describeFreshApp } from './fresh-app.js';

// The CommonJS app of `nest new --type cjs`, its processes on Node 22, the older
// major the engines allow (many existing CommonJS apps run there): test/package/fresh-app.ts
// says what is checked.
describeFreshApp('cjs', { label: 'Node 22', node: node22 });
