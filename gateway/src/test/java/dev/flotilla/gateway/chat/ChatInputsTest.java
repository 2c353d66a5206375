package dev.flotilla.gateway.chat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.api.v1.ChatInput;
import io.grpc.StatusRuntimeException;
import org.junit.jupiter.api.Test;

class ChatInputsTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  private static ChatInput of(String body) throws Exception {
    return ChatInputs.of(JSON.readTree(body));
  }

  @Test
  void messagesKeepTheirFieldsWithDeveloperAsSystemAndTextPartsJoined() throws Exception {
    ChatInput chat =
        of(
            """
            {"messages": [
              {"role": "developer", "content": "be brief"},
              {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
              {"role": "assistant", "content": null,
               "tool_calls": [{"id": "c1", "type": "function",
                               "function": {"name": "f", "arguments": "{\\"x\\": 1}"}}]},
              {"role": "tool", "tool_call_id": "c1", "content": "2"}]}
            """);
    assertThat(chat.getMessagesJson())
        .isEqualTo(
            "[{\"role\":\"system\",\"content\":\"be brief\"},"
                + "{\"role\":\"user\",\"content\":\"ab\"},"
                + "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c1\","
                + "\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":{\"x\":1}}}]},"
                + "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"2\"}]");
    assertThat(chat.getAddGenerationPrompt()).isTrue();
    assertThat(chat.getToolsJson()).isEmpty();
    assertThat(chat.getDocumentsJson()).isEmpty();
  }

  @Test
  void toolsAndDocumentsPassThroughWithTheirNumbersAsSent() throws Exception {
    ChatInput chat =
        of(
            """
            {"messages": [{"role": "user", "content": "hi"}], "tool_choice": "auto",
             "tools": [{"type": "function", "function": {"name": "f",
                        "parameters": {"type": "object", "properties": {"n": {"minimum": 1, "step": 0.5}}}}}],
             "documents": [{"title": "t", "text": "x"}], "add_generation_prompt": false}
            """);
    assertThat(chat.getToolsJson())
        .isEqualTo(
            "[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":{\"type\":"
                + "\"object\",\"properties\":{\"n\":{\"minimum\":1,\"step\":0.5}}}}}]");
    assertThat(chat.getDocumentsJson()).isEqualTo("[{\"title\":\"t\",\"text\":\"x\"}]");
    assertThat(chat.getAddGenerationPrompt()).isFalse();
  }

  @Test
  void malformedConversationsAreRefusedNamingTheField() {
    assertThatThrownBy(() -> of("{\"messages\": [{\"role\": \"user\"}]}"))
        .isInstanceOf(StatusRuntimeException.class)
        .hasMessageContaining("content may be left out only by an assistant message");
    assertThatThrownBy(
            () ->
                of(
                    "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}],"
                        + " \"add_generation_prompt\": 1}"))
        .hasMessageContaining("add_generation_prompt");
    assertThatThrownBy(
            () ->
                of(
                    "{\"messages\": [{\"role\": \"assistant\", \"tool_calls\": [{\"function\":"
                        + " {\"name\": \"f\", \"arguments\": \"[1]\"}}]}]}"))
        .hasMessageContaining("function.arguments must be a JSON object");
    assertThatThrownBy(() -> of("{\"messages\": [\"hi\"]}"))
        .hasMessageContaining("each message must be an object");
  }
}
