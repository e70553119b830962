import type { Stage } from '../context.js';

export const normalizeStage: Stage = (batch) => batch;
