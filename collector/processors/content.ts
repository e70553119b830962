import type { Stage } from './context.js';

export const contentStage: Stage = (batch) => batch;
