import type { Stage } from './context.js';

export const qualityStage: Stage = (batch) => batch;
