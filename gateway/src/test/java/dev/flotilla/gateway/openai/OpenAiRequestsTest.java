package dev.flotilla.gateway.openai;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.api.v1.GenerateRequest;
import dev.flotilla.api.v1.ResponseFormat;
import dev.flotilla.api.v1.ToolChoice;
import dev.flotilla.gateway.openai.OpenAiRequests.Endpoint;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class OpenAiRequestsTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  private static GenerateRequest map(Endpoint endpoint, String body) throws Exception {
    return OpenAiRequests.toGenerateRequest(endpoint, JSON.readTree(body), "rid");
  }

  @Test
  void modelNamesSplitIntoBaseAndAdapter() throws Exception {
    GenerateRequest r =
        map(Endpoint.COMPLETIONS, "{\"model\":\"team/llama:sql\",\"prompt\":\"x\"}");
    assertThat(r.getModel()).isEqualTo("team/llama");
    assertThat(r.getAdapter()).isEqualTo("sql");
    assertThat(r.getRequestId()).isEqualTo("rid");
    assertThat(map(Endpoint.COMPLETIONS, "{\"model\":\"llama\",\"prompt\":\"x\"}").getAdapter())
        .isEmpty();
  }

  @Test
  void samplingFieldsMapAndDefaultsFollowOpenAi() throws Exception {
    GenerateRequest r =
        map(
            Endpoint.CHAT,
            "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
                + "\"content\":\"hi\"}],\"max_tokens\":5,\"max_completion_tokens\":5,\"top_k\":-1,"
                + "\"seed\":-3,\"stop\":\"END\",\"user\":\"u\",\"logprobs\":true,\"top_logprobs\":0}");
    assertThat(r.getChat().getMessagesJson()).isEqualTo("[{\"role\":\"user\",\"content\":\"hi\"}]");
    assertThat(r.getSampling().getMaxTokens()).isEqualTo(5);
    assertThat(r.getSampling().getTopK()).isZero();
    assertThat(r.getSampling().getSeed()).isEqualTo(-3L);
    assertThat(r.getSampling().getStopList()).containsExactly("END");
    assertThat(r.getSampling().getTemperature()).isEqualTo(1.0f);
    assertThat(r.getSampling().getTopP()).isEqualTo(1.0f);
    assertThat(r.getLogprobs()).isTrue();
    assertThat(map(Endpoint.COMPLETIONS, "{\"model\":\"m\",\"prompt\":[\"one\"]}").getPrompt())
        .isEqualTo("one");
  }

  @Test
  void penaltiesBiasMinAndStopTokensAndTopLogprobsMap() throws Exception {
    GenerateRequest chat =
        map(
            Endpoint.CHAT,
            "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                + "\"presence_penalty\":0.5,\"frequency_penalty\":-1.5,\"repetition_penalty\":1.2,"
                + "\"logit_bias\":{\"7\":-100,\"12\":3.5},\"min_tokens\":2,\"max_completion_tokens\":8,"
                + "\"stop_token_ids\":[4,9],\"logprobs\":true,\"top_logprobs\":20}");
    var s = chat.getSampling();
    assertThat(s.getPresencePenalty()).isEqualTo(0.5f);
    assertThat(s.getFrequencyPenalty()).isEqualTo(-1.5f);
    assertThat(s.getRepetitionPenalty()).isEqualTo(1.2f);
    assertThat(s.getLogitBiasMap())
        .containsExactlyInAnyOrderEntriesOf(java.util.Map.of(7, -100f, 12, 3.5f));
    assertThat(s.getMinTokens()).isEqualTo(2);
    assertThat(s.getMaxTokens()).isEqualTo(8);
    assertThat(s.getStopTokenIdsList()).containsExactly(4, 9);
    assertThat(s.getTopLogprobs()).isEqualTo(20);
    assertThat(chat.getLogprobs()).isTrue();

    GenerateRequest completion =
        map(Endpoint.COMPLETIONS, "{\"model\":\"m\",\"prompt\":\"x\",\"logprobs\":3}");
    assertThat(completion.getLogprobs()).isTrue();
    assertThat(completion.getSampling().getTopLogprobs()).isEqualTo(3);
    GenerateRequest plain = map(Endpoint.COMPLETIONS, "{\"model\":\"m\",\"prompt\":\"x\"}");
    assertThat(plain.getSampling().getRepetitionPenalty()).isEqualTo(1f);
    assertThat(plain.getSampling().getTopLogprobs()).isZero();
    assertThat(plain.getLogprobs()).isFalse();
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "{\"prompt\":\"x\"}|model",
        "{\"model\":\"m:\",\"prompt\":\"x\"}|model",
        "{\"model\":\"m\"}|prompt",
        "{\"model\":\"m\",\"prompt\":[\"a\",\"b\"]}|prompt",
        "{\"model\":\"m\",\"prompt\":[1,-2]}|prompt",
        "{\"model\":\"m\",\"prompt\":\"x\",\"max_tokens\":0}|max_tokens",
        "{\"model\":\"m\",\"prompt\":\"x\",\"temperature\":\"hot\"}|temperature",
        "{\"model\":\"m\",\"prompt\":\"x\",\"top_p\":0}|top_p",
        "{\"model\":\"m\",\"prompt\":\"x\",\"temperature\":1e999}|temperature",
        "{\"model\":\"m\",\"prompt\":\"x\",\"temperature\":-1e999}|temperature",
        "{\"model\":\"m\",\"prompt\":\"x\",\"top_p\":1e999}|top_p",
        "{\"model\":\"m\",\"prompt\":\"x\",\"presence_penalty\":1e999}|presence_penalty",
        "{\"model\":\"m\",\"prompt\":\"x\",\"seed\":1e999}|seed",
        "{\"model\":\"m\",\"prompt\":\"x\",\"n\":17}|n",
        "{\"model\":\"m\",\"prompt\":\"x\",\"n\":0}|n",
        "{\"model\":\"m\",\"prompt\":\"x\",\"n\":2.5}|n",
        "{\"model\":\"m\",\"prompt\":\"x\",\"stop\":[\"\"]}|stop",
        "{\"model\":\"m\",\"prompt\":\"x\",\"logprobs\":21}|logprobs",
        "{\"model\":\"m\",\"prompt\":\"x\",\"presence_penalty\":2.5}|presence_penalty",
        "{\"model\":\"m\",\"prompt\":\"x\",\"frequency_penalty\":-2.5}|frequency_penalty",
        "{\"model\":\"m\",\"prompt\":\"x\",\"repetition_penalty\":0}|repetition_penalty",
        "{\"model\":\"m\",\"prompt\":\"x\",\"logit_bias\":{\"1\":101}}|logit_bias",
        "{\"model\":\"m\",\"prompt\":\"x\",\"logit_bias\":{\"one\":1}}|logit_bias",
        "{\"model\":\"m\",\"prompt\":\"x\",\"logit_bias\":[1]}|logit_bias",
        "{\"model\":\"m\",\"prompt\":\"x\",\"min_tokens\":-1}|min_tokens",
        "{\"model\":\"m\",\"prompt\":\"x\",\"min_tokens\":5,\"max_tokens\":4}|min_tokens",
        "{\"model\":\"m\",\"prompt\":\"x\",\"stop_token_ids\":[-1]}|stop_token_ids",
        "{\"model\":\"m\",\"prompt\":\"x\",\"max_completion_tokens\":4}|max_completion_tokens",
        "{\"model\":\"m\",\"prompt\":\"x\",\"echo\":true}|echo",
        "{\"model\":\"m\",\"prompt\":\"x\",\"best_of\":2}|best_of",
        "{\"model\":\"m\",\"prompt\":\"x\",\"stream_options\":{\"include_usage\":true}}|stream_options",
        "{\"model\":\"m\",\"prompt\":\"x\",\"stream\":\"yes\"}|stream",
        "{\"model\":\"m\",\"prompt\":\"x\",\"ignore_eos\":true}|ignore_eos",
        "{\"model\":\"m\",\"prompt\":\"x\",\"messages\":[]}|messages",
        "{\"model\":\"m\",\"prompt\":\"x\",\"tools\":[]}|tools",
        "{\"model\":\"m\",\"prompt\":\"x\",\"stream\":true,\"stream_options\":{\"continuous_usage_stats\":true}}|stream_options.continuous_usage_stats",
        "{\"model\":\"m\",\"prompt\":\"x\",\"stream\":true,\"stream_options\":true}|stream_options",
        "{\"model\":\"m\",\"prompt\":\"x\",\"service_tier\":\"flex\"}|service_tier",
        "{\"model\":\"m\",\"prompt\":\"x\",\"store\":true}|store",
        "{\"model\":\"m\",\"prompt\":\"x\",\"user\":7}|user",
      })
  void completionRefusalsNameTheParameter(String body, String param) {
    assertInvalid(Endpoint.COMPLETIONS, body, param);
  }

  @Test
  void responseFormatAndToolChoiceMapToTheirMessages() throws Exception {
    GenerateRequest r =
        OpenAiRequests.toGenerateRequest(
            Endpoint.CHAT,
            new ObjectMapper()
                .readTree(
                    """
                    {"model": "m", "messages": [{"role": "user", "content": "x"}],
                     "tools": [{"type": "function", "function": {"name": "f"}}],
                     "tool_choice": {"type": "function", "function": {"name": "f"}},
                     "response_format": {"type": "json_schema",
                       "json_schema": {"name": "s", "strict": true, "schema": {"type": "integer"}}}}
                    """),
            "id");
    assertThat(r.getResponseFormat().getType()).isEqualTo(ResponseFormat.Type.JSON_SCHEMA);
    assertThat(r.getResponseFormat().getSchemaJson()).isEqualTo("{\"type\":\"integer\"}");
    assertThat(r.getResponseFormat().getName()).isEqualTo("s");
    assertThat(r.getToolChoice().getMode()).isEqualTo(ToolChoice.Mode.FUNCTION);
    assertThat(r.getToolChoice().getFunctionName()).isEqualTo("f");
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "{\"model\":\"m\",\"messages\":[]}|messages",
        "{\"model\":\"m\",\"messages\":[{\"role\":\"robot\",\"content\":\"x\"}]}|messages",
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]}|messages",
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[1]}|tools",
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tool_choice\":\"required\"}|tool_choice",
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"logprobs\":true,\"top_logprobs\":21}|top_logprobs",
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"top_logprobs\":2}|top_logprobs",
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":3,\"max_completion_tokens\":4}|max_completion_tokens",
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"response_format\":{\"type\":\"xml\"}}|response_format.type",
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"s\"}}}|response_format.json_schema.schema",
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],\"tool_choice\":\"any\"}|tool_choice",
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"parallel_tool_calls\":\"no\"}|parallel_tool_calls",
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"reasoning_effort\":\"high\"}|reasoning_effort",
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"prompt\":\"y\"}|prompt",
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"echo\":false}|echo",
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"modalities\":[\"text\",\"audio\"]}|modalities",
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"function_call\":\"auto\"}|function_call",
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"guided_json\":{}}|guided_json",
      })
  void chatRefusalsNameTheParameter(String body, String param) {
    assertInvalid(Endpoint.CHAT, body, param);
  }

  @Test
  void parametersThatChangeNothingAreAcceptedAndParallelToolCallsMap() throws Exception {
    GenerateRequest r =
        map(
            Endpoint.CHAT,
            """
            {"model": "m", "messages": [{"role": "user", "content": "x"}],
             "user": "u1", "metadata": {"k": "v"}, "store": false, "service_tier": "auto",
             "modalities": ["text"], "stream": true,
             "stream_options": {"include_usage": true, "include_obfuscation": false},
             "tools": [{"type": "function", "function": {"name": "f"}}],
             "parallel_tool_calls": false}
            """);
    assertThat(r.getToolChoice().getMode()).isEqualTo(ToolChoice.Mode.AUTO);
    assertThat(r.getToolChoice().hasParallelToolCalls()).isTrue();
    assertThat(r.getToolChoice().getParallelToolCalls()).isFalse();
    GenerateRequest unset =
        map(
            Endpoint.CHAT,
            "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    assertThat(unset.getToolChoice().hasParallelToolCalls()).as("OpenAI's default").isFalse();
  }

  private static void assertInvalid(Endpoint endpoint, String body, String param) {
    assertThatThrownBy(() -> map(endpoint, body))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
              assertThat(OpenAiError.of(e).param()).isEqualTo(param);
              assertThat(OpenAiError.of(e).httpStatus()).isEqualTo(400);
            });
  }

  @Test
  void optionsReadLenientlyBeforeValidation() throws Exception {
    JsonNode streaming =
        JSON.readTree(
            "{\"stream\":true,\"stream_options\":{\"include_usage\":true},\"logprobs\":0}");
    assertThat(OpenAiRequests.Options.of(streaming))
        .isEqualTo(new OpenAiRequests.Options(true, true, true, ""));
    assertThat(OpenAiRequests.Options.of(null).stream()).isFalse();
    assertThat(
            OpenAiRequests.Options.of(
                    JSON.readTree("{\"stream_options\":" + "{\"include_usage\":true}}"))
                .includeUsage())
        .isFalse();
  }
}
