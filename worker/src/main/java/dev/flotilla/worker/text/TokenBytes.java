package dev.flotilla.worker.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;

/**
 * The bytes each token of a model's vocabulary stands for in decoded text, read from its {@code
 * tokenizer.json}: what a grammar over bytes needs to know which tokens may come next.
 *
 * <p>Byte-level BPE vocabularies (GPT-2, Llama 3, Qwen: decoder {@code ByteLevel}) map each
 * character back through GPT-2's byte-to-unicode table. SentencePiece-style ones (Llama 2, Mistral)
 * read {@code ▁} as a space and {@code <0xNN>} as that byte. Special added tokens ({@code
 * "special": true}) stand for no text and are null, as are ids the file does not name; added tokens
 * that are plain text ({@code "special": false}) stand for their content.
 */
public final class TokenBytes {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int[] UNICODE_TO_BYTE = byteLevelInverse();

  private final byte[][] bytes;

  private TokenBytes(byte[][] bytes) {
    this.bytes = bytes;
  }

  /** Reads {@code modelDir/tokenizer.json} for a model of {@code vocabSize} logits. */
  public static TokenBytes load(Path modelDir, int vocabSize) throws IOException {
    return of(JSON.readTree(modelDir.resolve("tokenizer.json").toFile()), vocabSize);
  }

  static TokenBytes of(JsonNode tokenizer, int vocabSize) {
    byte[][] out = new byte[vocabSize][];
    boolean byteLevel = mentionsByteLevel(tokenizer.path("decoder"));
    JsonNode vocab = tokenizer.path("model").path("vocab");
    for (Iterator<Map.Entry<String, JsonNode>> it = vocab.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      int id = e.getValue().asInt(-1);
      if (id >= 0 && id < vocabSize) {
        out[id] = byteLevel ? byteLevel(e.getKey()) : sentencePiece(e.getKey());
      }
    }
    for (JsonNode added : tokenizer.path("added_tokens")) {
      int id = added.path("id").asInt(-1);
      if (id >= 0 && id < vocabSize) {
        out[id] =
            added.path("special").asBoolean(false)
                ? null
                : added.path("content").asText().getBytes(StandardCharsets.UTF_8);
      }
    }
    return new TokenBytes(out);
  }

  public int size() {
    return bytes.length;
  }

  /** The token's bytes, or null for a token that stands for no text (special, or unnamed). */
  public byte[] get(int token) {
    return bytes[token];
  }

  private static boolean mentionsByteLevel(JsonNode decoder) {
    if (decoder.path("type").asText().equals("ByteLevel")) {
      return true;
    }
    for (JsonNode d : decoder.path("decoders")) {
      if (mentionsByteLevel(d)) {
        return true;
      }
    }
    return false;
  }

  private static byte[] byteLevel(String token) {
    byte[] out = new byte[token.length()];
    for (int i = 0; i < token.length(); i++) {
      char c = token.charAt(i);
      int b = c < UNICODE_TO_BYTE.length ? UNICODE_TO_BYTE[c] : -1;
      if (b < 0) {
        return token.getBytes(StandardCharsets.UTF_8); // not from the byte alphabet: literal text
      }
      out[i] = (byte) b;
    }
    return out;
  }

  private static byte[] sentencePiece(String token) {
    if (token.length() == 6 && token.startsWith("<0x") && token.endsWith(">")) {
      try {
        return new byte[] {(byte) Integer.parseInt(token.substring(3, 5), 16)};
      } catch (NumberFormatException e) {
        // not a byte token: literal text below
      }
    }
    return token.replace('\u2581', ' ').getBytes(StandardCharsets.UTF_8);
  }

  /** GPT-2's table inverted: printable bytes stand for themselves, the rest for 256 + n. */
  private static int[] byteLevelInverse() {
    int[] inverse = new int[512];
    java.util.Arrays.fill(inverse, -1);
    int next = 256;
    for (int b = 0; b < 256; b++) {
      boolean printable =
          (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      inverse[printable ? b : next++] = b;
    }
    return inverse;
  }
}
