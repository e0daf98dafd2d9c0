// A status answer for tests: every counter at zero, and the fields a test gives.
import type { Status } from '../protocol';

export function statusWith(fields: Partial<Status>): Status {
  return {
    state: 'ready',
    model: 'default',
    error: null,
    completions: {
      requests: 0,
      cacheHits: 0,
      followed: 0,
      generations: 0,
      speculations: 0,
      cancelledGenerations: 0,
      promptTokens: 0,
      reusedTokens: 0,
      generatedTokens: 0,
      generatedTokensCancelled: 0,
      refreshes: 0,
      refreshesChanged: 0,
    },
    lastGeneration: null,
    actions: { runs: 0, applied: 0, refused: 0, cancelled: 0, last: null },
    savedStateBytes: 0,
    ...fields,
  };
}
