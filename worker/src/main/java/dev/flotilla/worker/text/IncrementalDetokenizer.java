package dev.flotilla.worker.text;

import java.util.Arrays;

/**
 * Turns a growing list of generated token ids into text deltas without splitting a character.
 *
 * <p>A token may carry part of a multi-byte UTF-8 character (byte-level BPE), which decodes to
 * U+FFFD until the rest arrives. So each new token decodes a short window: the text of {@code
 * [prefix, read)} was already emitted; the text of {@code [prefix, end)} minus it is the delta,
 * held back while it ends in U+FFFD (the approach of Hugging Face text-generation-inference). The
 * window starts at the previous delta's tokens, which gives decoders that strip a leading space
 * (SentencePiece's metaspace) the left context they need.
 */
public final class IncrementalDetokenizer {
  private static final char REPLACEMENT = '\uFFFD';

  private final TokenDecoder decoder;
  private int[] ids = new int[16];
  private int length;
  private int prefix;
  private int read;

  public IncrementalDetokenizer(TokenDecoder decoder) {
    this.decoder = decoder;
  }

  /** Adds a token and returns the text it completes (possibly empty). */
  public String add(int token) {
    if (length == ids.length) {
      ids = Arrays.copyOf(ids, length * 2);
    }
    ids[length++] = token;
    String before = decoder.decode(ids, prefix, read);
    String after = decoder.decode(ids, prefix, length);
    if (after.length() > before.length()
        && after.charAt(after.length() - 1) != REPLACEMENT
        && after.startsWith(before)) {
      prefix = read;
      read = length;
      return after.substring(before.length());
    }
    return "";
  }

  /** Text still held back (an incomplete character at the end), emitted as it stands. */
  public String flush() {
    if (read == length) {
      return "";
    }
    String before = decoder.decode(ids, prefix, read);
    String after = decoder.decode(ids, prefix, length);
    prefix = read;
    read = length;
    return after.startsWith(before) ? after.substring(before.length()) : after;
  }
}
