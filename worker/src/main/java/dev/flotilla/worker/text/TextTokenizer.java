package dev.flotilla.worker.text;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * A model's Hugging Face {@code tokenizer.json} through DJL's bindings of the Rust tokenizers
 * library. Thread-safe. Text is encoded with the tokenizer's special tokens (its post-processor
 * adds BOS where the model wants it) and decoded without them.
 */
public final class TextTokenizer implements TokenDecoder, AutoCloseable {
  private final HuggingFaceTokenizer tokenizer;

  private TextTokenizer(HuggingFaceTokenizer tokenizer) {
    this.tokenizer = tokenizer;
  }

  /** Loads {@code dir/tokenizer.json}; the message names the file when it cannot. */
  public static TextTokenizer load(Path modelDir) throws IOException {
    Path file = modelDir.resolve("tokenizer.json");
    if (!Files.isRegularFile(file)) {
      throw new IOException(file + " does not exist");
    }
    try {
      return new TextTokenizer(
          HuggingFaceTokenizer.newInstance(
              modelDir,
              Map.of(
                  "truncation",
                  "false",
                  "padding",
                  "false",
                  "addSpecialTokens",
                  "true",
                  "cleanupTokenizationSpaces",
                  "false")));
    } catch (RuntimeException e) {
      throw new IOException("cannot load " + file + ": " + e.getMessage(), e);
    }
  }

  public int[] encode(String text) {
    return encode(text, true);
  }

  /**
   * @param addSpecialTokens false for text that already holds them, as a rendered chat template
   *     does (its {@code bos_token} included), so BOS is not doubled
   */
  public int[] encode(String text, boolean addSpecialTokens) {
    long[] ids = tokenizer.encode(text, addSpecialTokens, false).getIds();
    int[] out = new int[ids.length];
    for (int i = 0; i < ids.length; i++) {
      out[i] = (int) ids[i];
    }
    return out;
  }

  @Override
  public String decode(int[] ids, int from, int to) {
    long[] window = new long[to - from];
    for (int i = from; i < to; i++) {
      window[i - from] = ids[i];
    }
    return tokenizer.decode(window, true);
  }

  @Override
  public void close() {
    tokenizer.close();
  }
}
