package dev.flotilla.testkit;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a byte-level BPE {@code tokenizer.json} (Hugging Face tokenizers format) and its {@code
 * tokenizer_config.json} with a chat template. The vocabulary has exactly the model's vocab_size
 * entries: the 256 byte tokens, {@code <s>} and {@code </s>}, merges learned from a built-in
 * English text, and, when the text runs out of merges, unreachable reserved tokens.
 */
public final class TokenizerFiles {

  public static final String BOS = "<s>";
  public static final String EOS = "</s>";

  /**
   * Bytes take ids 0..255, so the specials land on ids a default of 0 would never hit by accident.
   */
  public static final int BOS_ID = 256;

  public static final int EOS_ID = 257;
  public static final int MIN_VOCAB_SIZE = 258;

  /** Zephyr-style markers written as plain text, so they need no special tokens. */
  public static final String CHAT_TEMPLATE =
      "{{ bos_token }}{% for message in messages %}"
          + "{{ '<|' + message['role'] + '|>\\n' + message['content'] + eos_token + '\\n' }}"
          + "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}";

  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
  private static final String CORPUS = "tokenizer-corpus.txt";

  private TokenizerFiles() {}

  /** Writes tokenizer.json and tokenizer_config.json into {@code modelDir}. */
  public static void write(Path modelDir, int vocabSize, int modelMaxLength) throws IOException {
    Files.createDirectories(modelDir);
    JSON.writeValue(
        modelDir.resolve("tokenizer.json").toFile(), tokenizerJson(vocabulary(vocabSize)));
    JSON.writeValue(
        modelDir.resolve("tokenizer_config.json").toFile(), tokenizerConfig(modelMaxLength));
  }

  /** Token strings (byte-level alphabet) by id, and the merges that build them. */
  record Vocabulary(List<String> tokens, List<BpeTrainer.Merge> merges) {}

  static Vocabulary vocabulary(int vocabSize) {
    if (vocabSize < MIN_VOCAB_SIZE) {
      throw new IllegalArgumentException(
          "vocab_size "
              + vocabSize
              + " < "
              + MIN_VOCAB_SIZE
              + " (256 bytes and two special tokens)");
    }
    Map<String, Integer> ids = new LinkedHashMap<>();
    for (int b = 0; b < 256; b++) {
      ids.put(String.valueOf(ByteLevelAlphabet.charFor(b)), b);
    }
    ids.put(BOS, BOS_ID);
    ids.put(EOS, EOS_ID);
    List<BpeTrainer.Merge> merges = BpeTrainer.learn(corpus(), vocabSize - MIN_VOCAB_SIZE);
    for (BpeTrainer.Merge merge : merges) {
      // Two merges can spell the same string ("ab"+"c", "a"+"bc"); the token is listed once.
      ids.putIfAbsent(merge.merged(), ids.size());
    }
    for (int reserved = 0; ids.size() < vocabSize; reserved++) {
      ids.putIfAbsent("<|reserved_" + reserved + "|>", ids.size());
    }
    return new Vocabulary(List.copyOf(ids.keySet()), merges);
  }

  static String corpus() {
    try (InputStream in = TokenizerFiles.class.getResourceAsStream(CORPUS)) {
      if (in == null) {
        throw new IllegalStateException("missing resource " + CORPUS);
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static ObjectNode tokenizerJson(Vocabulary vocabulary) {
    ObjectNode root = JSON.createObjectNode();
    root.put("version", "1.0");
    root.putNull("truncation");
    root.putNull("padding");
    ArrayNode added = root.putArray("added_tokens");
    added.add(specialToken(BOS_ID, BOS));
    added.add(specialToken(EOS_ID, EOS));
    root.putNull("normalizer");
    root.set("pre_tokenizer", byteLevel(false));
    root.set("post_processor", prependBos());
    root.set("decoder", byteLevel(true));

    ObjectNode model = root.putObject("model");
    model.put("type", "BPE");
    model.putNull("dropout");
    model.putNull("unk_token");
    model.putNull("continuing_subword_prefix");
    model.putNull("end_of_word_suffix");
    model.put("fuse_unk", false);
    model.put("byte_fallback", false);
    ObjectNode vocab = model.putObject("vocab");
    List<String> tokens = vocabulary.tokens();
    for (int id = 0; id < tokens.size(); id++) {
      vocab.put(tokens.get(id), id);
    }
    // "left right" strings: byte-level tokens never contain a space, and every tokenizers release
    // reads them.
    ArrayNode merges = model.putArray("merges");
    vocabulary.merges().forEach(m -> merges.add(m.left() + " " + m.right()));
    return root;
  }

  private static ObjectNode specialToken(int id, String content) {
    ObjectNode token = JSON.createObjectNode();
    token.put("id", id);
    token.put("content", content);
    token.put("single_word", false);
    token.put("lstrip", false);
    token.put("rstrip", false);
    token.put("normalized", false);
    token.put("special", true);
    return token;
  }

  private static ObjectNode byteLevel(boolean forDecoder) {
    ObjectNode node = JSON.createObjectNode();
    node.put("type", "ByteLevel");
    node.put("add_prefix_space", forDecoder);
    node.put("trim_offsets", true);
    node.put("use_regex", true);
    return node;
  }

  /** Llama's post-processor: {@code <s>} before every sequence, nothing after. */
  private static ObjectNode prependBos() {
    ObjectNode node = JSON.createObjectNode();
    node.put("type", "TemplateProcessing");
    ArrayNode single = node.putArray("single");
    single.add(special(BOS));
    single.add(sequence("A"));
    ArrayNode pair = node.putArray("pair");
    pair.add(special(BOS));
    pair.add(sequence("A"));
    pair.add(special(BOS));
    pair.add(sequence("B"));
    ObjectNode bos = node.putObject("special_tokens").putObject(BOS);
    bos.put("id", BOS);
    bos.putArray("ids").add(BOS_ID);
    bos.putArray("tokens").add(BOS);
    return node;
  }

  private static ObjectNode special(String token) {
    ObjectNode node = JSON.createObjectNode();
    ObjectNode inner = node.putObject("SpecialToken");
    inner.put("id", token);
    inner.put("type_id", 0);
    return node;
  }

  private static ObjectNode sequence(String id) {
    ObjectNode node = JSON.createObjectNode();
    ObjectNode inner = node.putObject("Sequence");
    inner.put("id", id);
    inner.put("type_id", 0);
    return node;
  }

  private static ObjectNode tokenizerConfig(int modelMaxLength) {
    ObjectNode config = JSON.createObjectNode();
    config.put("add_bos_token", true);
    config.put("add_eos_token", false);
    ObjectNode decoder = config.putObject("added_tokens_decoder");
    decoder.set(String.valueOf(BOS_ID), withoutId(specialToken(BOS_ID, BOS)));
    decoder.set(String.valueOf(EOS_ID), withoutId(specialToken(EOS_ID, EOS)));
    config.put("bos_token", BOS);
    config.put("eos_token", EOS);
    config.put("chat_template", CHAT_TEMPLATE);
    config.put("clean_up_tokenization_spaces", false);
    config.put("model_max_length", modelMaxLength);
    config.put("tokenizer_class", "PreTrainedTokenizerFast");
    return config;
  }

  private static ObjectNode withoutId(ObjectNode token) {
    token.remove("id");
    return token;
  }
}
