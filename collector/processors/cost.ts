import type { Stage } from './context.js';

export const costStage: Stage = (batch) => batch;
