package dev.flotilla.worker.text;

/** Token ids to text, special tokens left out. */
@FunctionalInterface
public interface TokenDecoder {
  /** Decodes {@code ids[from, to)}. */
  String decode(int[] ids, int from, int to);
}
