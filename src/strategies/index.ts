/** The strategies by `spec.strategy.type`; a new strategy is one file and one line here. */
import type { StrategyType } from '../core/deploy-types.js';
import { customStrategy } from './custom.js';
import { recreateStrategy } from './recreate.js';
import { rollingStrategy } from './rolling.js';
import type { Strategy } from './strategy.js';

export const STRATEGIES: Record<StrategyType, Strategy> = {
  Rolling: rollingStrategy,
  Recreate: recreateStrategy,
  Custom: customStrategy,
};
