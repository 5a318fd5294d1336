/** Test fixtures: the synthetic stream and baseline live with the aggregator (also used by its benchmark). */
export { CATEGORIES, buildBaseline, seededRandom, syntheticBaseline, syntheticReview, type SyntheticOptions } from '../../fixtures/synthetic.js';
