package dev.flotilla.gateway.openai;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.api.v1.EmbedInput;
import dev.flotilla.api.v1.EmbedRequest;
import dev.flotilla.api.v1.TokenIds;
import io.grpc.StatusRuntimeException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class OpenAiEmbeddingsTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  private static EmbedRequest map(String body) throws Exception {
    return OpenAiEmbeddings.toEmbedRequest(JSON.readTree(body), "rid");
  }

  private static EmbedInput text(String s) {
    return EmbedInput.newBuilder().setText(s).build();
  }

  private static EmbedInput ids(int... ids) {
    TokenIds.Builder t = TokenIds.newBuilder();
    for (int id : ids) {
      t.addIds(id);
    }
    return EmbedInput.newBuilder().setTokenIds(t).build();
  }

  @Test
  void everyInputShapeOfOpenAiMaps() throws Exception {
    assertThat(map("{\"model\":\"m\",\"input\":\"a\"}").getInputsList()).containsExactly(text("a"));
    assertThat(map("{\"model\":\"m\",\"input\":[\"a\",\"b\"]}").getInputsList())
        .containsExactly(text("a"), text("b"));
    assertThat(map("{\"model\":\"m\",\"input\":[1,2]}").getInputsList()).containsExactly(ids(1, 2));
    assertThat(map("{\"model\":\"m\",\"input\":[[1],[2,3]]}").getInputsList())
        .containsExactly(ids(1), ids(2, 3));
    EmbedRequest r = map("{\"model\":\"m:ad\",\"input\":\"a\",\"dimensions\":128}");
    assertThat(r.getModel()).isEqualTo("m");
    assertThat(r.getAdapter()).isEqualTo("ad");
    assertThat(r.getDimensions()).isEqualTo(128);
    assertThat(r.getRequestId()).isEqualTo("rid");
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "{\"input\":\"a\"}|model",
        "{\"model\":\"m\"}|input",
        "{\"model\":\"m\",\"input\":[]}|input",
        "{\"model\":\"m\",\"input\":[-1]}|input",
        "{\"model\":\"m\",\"input\":[{\"x\":1}]}|input",
        "{\"model\":\"m\",\"input\":\"a\",\"dimensions\":0}|dimensions",
        "{\"model\":\"m\",\"input\":\"a\",\"encoding_format\":\"int8\"}|encoding_format",
      })
  void badFieldsAreRefusedByName(String body, String field) {
    assertThatThrownBy(() -> map(body))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> assertThat(OpenAiError.of(e).param()).isEqualTo(field));
  }

  @Test
  void base64IsTheLittleEndianFloat32Bytes() throws Exception {
    var vectors = java.util.List.of(dev.flotilla.gateway.service.FakeWorker.embedding(0));
    var fin =
        dev.flotilla.api.v1.Final.newBuilder()
            .setUsage(dev.flotilla.api.v1.Usage.newBuilder().setPromptTokens(4).setTotalTokens(4))
            .build();
    var out = OpenAiEmbeddings.response(JSON, "m", vectors, OpenAiEmbeddings.Encoding.BASE64, fin);
    // 1.0f = 0x3f800000, -0.5f = 0xbf000000, 0.25f = 0x3e800000, little-endian
    assertThat(out.get("data").get(0).get("embedding").asText())
        .isEqualTo(
            java.util.Base64.getEncoder()
                .encodeToString(
                    new byte[] {
                      0, 0, (byte) 0x80, 0x3f, 0, 0, 0, (byte) 0xbf, 0, 0, (byte) 0x80, 0x3e
                    }));
    assertThat(out.get("usage").get("prompt_tokens").asInt()).isEqualTo(4);
  }
}
