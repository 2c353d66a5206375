package dev.flotilla.worker.engine;

/**
 * What sampling reads of a sequence: its tokens so far and the tokens that end it. The arrays are
 * read during the call and not kept.
 *
 * @param tokens the prompt then the generated tokens, in {@code [0, length)}
 * @param length valid entries of {@code tokens}
 * @param promptLength how many of them are the prompt
 * @param endTokens end-of-sequence and stop token ids, banned before {@link
 *     SamplingParams#minTokens()}
 */
public record SequenceTokens(int[] tokens, int length, int promptLength, int[] endTokens) {
  public SequenceTokens {
    if (promptLength < 0 || promptLength > length || length > tokens.length) {
      throw new IllegalArgumentException(
          "promptLength " + promptLength + ", length " + length + ", capacity " + tokens.length);
    }
  }

  /** The generation step: tokens generated so far. */
  public long step() {
    return length - promptLength;
  }
}
