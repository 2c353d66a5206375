package dev.flotilla.worker.structured;

import dev.flotilla.worker.text.TokenBytes;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Per automaton state, the tokens of a vocabulary whose bytes the automaton can read from there
 * without being rejected, as a bit set for {@code fl_mask_logits}. End-of-sequence tokens are
 * allowed exactly where the text is a whole value, and alone where nothing may extend it. Tokens
 * that stand for no text (special ones) are never allowed otherwise: they cannot advance the value
 * and would let it run on forever.
 *
 * <p>A state's set is computed when a sequence first reaches it (one pass over the vocabulary) and
 * kept, so later sequences of the same schema pay only for the copy-free lookup.
 */
public final class TokenMasks {
  private final ByteDfa dfa;
  private final TokenBytes vocabulary;
  private final int[] eos;
  private final AtomicReferenceArray<int[]> masks;

  public TokenMasks(ByteDfa dfa, TokenBytes vocabulary, Set<Integer> eosTokens) {
    this.dfa = dfa;
    this.vocabulary = vocabulary;
    this.eos =
        eosTokens.stream().mapToInt(Integer::intValue).filter(t -> t < vocabulary.size()).toArray();
    this.masks = new AtomicReferenceArray<>(dfa.states());
  }

  public ByteDfa automaton() {
    return dfa;
  }

  public int vocabSize() {
    return vocabulary.size();
  }

  /** Whether {@code token} is an end-of-sequence token. */
  public boolean isEos(int token) {
    for (int e : eos) {
      if (e == token) {
        return true;
      }
    }
    return false;
  }

  /** The allowed-token bit set at {@code state}; shared, do not modify. */
  public int[] allowed(int state) {
    int[] mask = masks.get(state);
    if (mask == null) {
      mask = compute(state);
      masks.compareAndSet(state, null, mask);
    }
    return mask;
  }

  /** The state after {@code token}'s bytes, or {@link ByteDfa#DEAD}. */
  public int next(int state, int token) {
    byte[] b = vocabulary.get(token);
    return b == null || b.length == 0 ? ByteDfa.DEAD : dfa.walk(state, b);
  }

  private int[] compute(int state) {
    int vocab = vocabulary.size();
    int[] mask = new int[(vocab + 31) / 32];
    if (!dfa.complete(state)) {
      for (int t = 0; t < vocab; t++) {
        byte[] b = vocabulary.get(t);
        if (b != null && b.length > 0 && dfa.walk(state, b) != ByteDfa.DEAD) {
          mask[t >>> 5] |= 1 << (t & 31);
        }
      }
    }
    if (dfa.accepting(state)) {
      for (int t : eos) {
        mask[t >>> 5] |= 1 << (t & 31);
      }
    }
    return mask;
  }
}
