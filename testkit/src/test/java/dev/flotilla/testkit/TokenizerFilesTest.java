package dev.flotilla.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class TokenizerFilesTest {

  private static final String SENTENCE =
      "The captain of the small fleet watched the harbor lights come on, one by one.";

  @TempDir Path dir;

  @Test
  void huggingFaceTokenizersLoadsItAndRoundTripsEnglish() throws IOException {
    TokenizerFiles.write(dir, 1024, 512);
    try (HuggingFaceTokenizer tokenizer =
        HuggingFaceTokenizer.newInstance(dir.resolve("tokenizer.json"))) {
      Encoding encoding = tokenizer.encode(SENTENCE);
      long[] ids = encoding.getIds();
      assertThat(ids[0]).as("post-processor prepends <s>").isEqualTo(TokenizerFiles.BOS_ID);
      assertThat(Arrays.stream(ids)).allMatch(id -> id >= 0 && id < 1024);
      // Learned merges compress: far fewer tokens than bytes.
      assertThat(ids.length).isLessThan(SENTENCE.length() / 2);
      assertThat(tokenizer.decode(ids, true)).isEqualTo(SENTENCE);
      assertThat(tokenizer.decode(ids, false)).isEqualTo("<s>" + SENTENCE);
    }
  }

  @Test
  void bytesOutsideTheCorpusStillRoundTrip() throws IOException {
    TokenizerFiles.write(dir, 300, 512);
    String text = "Zürich → 東京, naïve café: 42% ✓";
    try (HuggingFaceTokenizer tokenizer =
        HuggingFaceTokenizer.newInstance(dir.resolve("tokenizer.json"))) {
      long[] ids = tokenizer.encode(text, false, false).getIds();
      assertThat(Arrays.stream(ids)).allMatch(id -> id < 300);
      assertThat(tokenizer.decode(ids, true)).isEqualTo(text);
    }
  }

  @Test
  void chatTemplateEndOfTurnIsTheEosSpecialToken() throws IOException {
    TokenizerFiles.write(dir, 1024, 512);
    try (HuggingFaceTokenizer tokenizer =
        HuggingFaceTokenizer.newInstance(dir.resolve("tokenizer.json"))) {
      long[] ids =
          tokenizer.encode("<|user|>\nHello there</s>\n<|assistant|>\n", false, false).getIds();
      assertThat(ids).contains(TokenizerFiles.EOS_ID);
      assertThat(ids).doesNotContain(TokenizerFiles.BOS_ID);
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {258, 300, 1024, 32000})
  void vocabularyHasExactlyTheModelsSizeWithUniqueTokens(int vocabSize) {
    TokenizerFiles.Vocabulary vocabulary = TokenizerFiles.vocabulary(vocabSize);
    assertThat(vocabulary.tokens()).hasSize(vocabSize);
    assertThat(new HashSet<>(vocabulary.tokens())).hasSize(vocabSize);
    assertThat(vocabulary.tokens().get(TokenizerFiles.BOS_ID)).isEqualTo("<s>");
    assertThat(vocabulary.tokens().get(TokenizerFiles.EOS_ID)).isEqualTo("</s>");
    // Every merge result is in the vocabulary, or the tokenizers library refuses the file.
    assertThat(vocabulary.tokens())
        .containsAll(vocabulary.merges().stream().map(BpeTrainer.Merge::merged).toList());
  }

  @Test
  void tokenizerFilesAreDeterministic() throws IOException {
    TokenizerFiles.write(dir.resolve("a"), 1024, 512);
    TokenizerFiles.write(dir.resolve("b"), 1024, 512);
    for (String file : List.of("tokenizer.json", "tokenizer_config.json")) {
      assertThat(Files.readAllBytes(dir.resolve("b").resolve(file)))
          .isEqualTo(Files.readAllBytes(dir.resolve("a").resolve(file)));
    }
  }

  @Test
  void tokenizerConfigNamesTheSpecialTokensAndAChatTemplate() throws IOException {
    GeneratedModel model = TinyModelGenerator.tiny().generate(dir);
    JsonNode config = new ObjectMapper().readTree(dir.resolve("tokenizer_config.json").toFile());
    assertThat(config.get("bos_token").asText()).isEqualTo("<s>");
    assertThat(config.get("eos_token").asText()).isEqualTo("</s>");
    assertThat(config.get("chat_template").asText())
        .contains("{% for message in messages %}", "add_generation_prompt", "<|assistant|>");
    assertThat(
            config
                .get("added_tokens_decoder")
                .get(String.valueOf(model.config().eosTokenId()))
                .get("content")
                .asText())
        .isEqualTo("</s>");
    JsonNode generation =
        new ObjectMapper().readTree(dir.resolve("generation_config.json").toFile());
    assertThat(generation.get("bos_token_id").asInt())
        .isEqualTo(model.config().bosTokenId())
        .isEqualTo(TokenizerFiles.BOS_ID);
    assertThat(generation.get("eos_token_id").asInt())
        .isEqualTo(model.config().eosTokenId())
        .isEqualTo(TokenizerFiles.EOS_ID);
    JsonNode tokenizer = new ObjectMapper().readTree(dir.resolve("tokenizer.json").toFile());
    assertThat(tokenizer.get("model").get("vocab").size()).isEqualTo(model.config().vocabSize());
  }
}
