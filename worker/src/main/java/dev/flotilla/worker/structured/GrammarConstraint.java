package dev.flotilla.worker.structured;

import dev.flotilla.worker.scheduler.TokenConstraint;

/**
 * One sequence's place in a compiled grammar: the automaton state reached by the tokens it
 * generated. Once the value is whole and nothing may extend it only end-of-sequence is allowed, so
 * the sequence ends there.
 */
public final class GrammarConstraint implements TokenConstraint {
  private final TokenMasks masks;
  private int state;
  private boolean ended;

  public GrammarConstraint(TokenMasks masks) {
    this.masks = masks;
  }

  @Override
  public int[] allowedTokens() {
    int[] mask = ended ? null : masks.allowed(state);
    if (mask == null || isEmpty(mask)) {
      throw new IllegalStateException(
          "structured output: no token of the model's vocabulary can continue the JSON here");
    }
    return mask;
  }

  @Override
  public void accept(int token) {
    if (masks.isEos(token)) {
      ended = true;
      return;
    }
    int next = masks.next(state, token);
    if (next == ByteDfa.DEAD) {
      throw new IllegalStateException(
          "structured output: token " + token + " was sampled but the grammar does not allow it");
    }
    state = next;
  }

  /** Whether the text so far is a whole value. */
  public boolean accepting() {
    return masks.automaton().accepting(state);
  }

  private static boolean isEmpty(int[] mask) {
    for (int w : mask) {
      if (w != 0) {
        return false;
      }
    }
    return true;
  }
}
