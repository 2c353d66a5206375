package dev.flotilla.sdk;

import java.util.List;
import java.util.Objects;

/** One thing to embed: text, tokenized by the model's tokenizer, or token ids. */
public sealed interface EmbeddingInput {

  /**
   * @param text the text; not empty
   * @return a text input
   */
  static EmbeddingInput text(String text) {
    return new Text(text);
  }

  /**
   * @param ids token ids of the model's vocabulary; at least one
   * @return a pre-tokenized input
   */
  static EmbeddingInput tokenIds(List<Integer> ids) {
    return new TokenIds(ids);
  }

  /** Text, tokenized by the model's tokenizer. */
  record Text(String text) implements EmbeddingInput {
    public Text {
      Objects.requireNonNull(text, "text");
      if (text.isEmpty()) {
        throw new IllegalArgumentException("an embedding input must not be empty");
      }
    }
  }

  /** Pre-tokenized input. */
  record TokenIds(List<Integer> ids) implements EmbeddingInput {
    public TokenIds {
      ids = List.copyOf(ids);
      if (ids.isEmpty()) {
        throw new IllegalArgumentException("an embedding input must not be empty");
      }
    }
  }
}
