package dev.flotilla.worker.chat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flotilla.api.v1.ChatInput;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Templates shaped as real models ship them (Llama 3 Instruct's, Qwen2.5's with tools), loaded from
 * a model directory and rendered from a ChatInput. The expected strings are what Jinja2 3.1 renders
 * with transformers' settings for the same templates and variables.
 */
class ChatPromptsTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path dir;

  private static String resource(String name) throws IOException {
    try (InputStream in = ChatPromptsTest.class.getResourceAsStream("/chat-templates/" + name)) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  private ChatPrompts load() throws IOException {
    return new ChatPrompts(
        ModelChatTemplate.load(dir).orElseThrow(),
        new ChatTemplateRenderer(
            ChatTemplateRenderer.Limits.DEFAULT, ChatTemplateRendererTest.JULY_26));
  }

  private void writeConfig(Object chatTemplate, Object bosToken, Object eosToken)
      throws IOException {
    ObjectNode config = JSON.createObjectNode();
    config.set("chat_template", JSON.valueToTree(chatTemplate));
    config.set("bos_token", JSON.valueToTree(bosToken));
    config.set("eos_token", JSON.valueToTree(eosToken));
    JSON.writeValue(dir.resolve("tokenizer_config.json").toFile(), config);
  }

  @Test
  void llama3StyleTemplateFromTheTokenizerConfig() throws Exception {
    // bos_token as transformers writes an AddedToken.
    writeConfig(
        resource("llama3.jinja"),
        Map.of("__type", "AddedToken", "content", "<|begin_of_text|>", "special", true),
        "<|eot_id|>");
    String messages =
        "[{\"role\": \"system\", \"content\": \" You are a pirate. \"},"
            + " {\"role\": \"user\", \"content\": \"Hi!\\n\"},"
            + " {\"role\": \"assistant\", \"content\": \"Arr.\"},"
            + " {\"role\": \"user\", \"content\": \"Where is the gold?\"}]";
    ChatInput chat =
        ChatInput.newBuilder().setMessagesJson(messages).setAddGenerationPrompt(true).build();
    assertThat(load().render(chat))
        .isEqualTo(
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a"
                + " pirate.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\nArr.<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nWhere is the gold?<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n");
    assertThat(load().render(chat.toBuilder().setAddGenerationPrompt(false).build()))
        .endsWith("Where is the gold?<|eot_id|>");
  }

  @Test
  void qwen2StyleTemplateWithToolsToolCallsAndToolResults() throws Exception {
    writeConfig(resource("qwen2.jinja"), null, "<|im_end|>");
    String messages =
        "[{\"role\": \"user\", \"content\": \"What's the weather in Paris?\"},"
            + " {\"role\": \"assistant\", \"content\": null, \"tool_calls\": [{\"id\": \"c1\","
            + " \"type\": \"function\", \"function\": {\"name\": \"get_weather\","
            + " \"arguments\": {\"city\": \"Paris\", \"days\": 2}}}]},"
            + " {\"role\": \"tool\", \"tool_call_id\": \"c1\", \"content\": \"22C\"},"
            + " {\"role\": \"tool\", \"tool_call_id\": \"c2\", \"content\": \"sunny\"}]";
    String tools =
        "[{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\":"
            + " \"Weather by city\", \"parameters\": {\"type\": \"object\", \"properties\":"
            + " {\"city\": {\"type\": \"string\"}, \"days\": {\"type\": \"integer\", \"minimum\": 1,"
            + " \"weight\": 0.5}}, \"required\": [\"city\"]}}}]";
    ChatInput chat =
        ChatInput.newBuilder()
            .setMessagesJson(messages)
            .setToolsJson(tools)
            .setAddGenerationPrompt(true)
            .build();
    assertThat(load().render(chat))
        .isEqualTo(
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful"
                + " assistant.\n\n# Tools\n\nYou may call one or more functions to assist with the"
                + " user query.\n\nYou are provided with function signatures within <tools></tools>"
                + " XML tags:\n<tools>\n{\"type\": \"function\", \"function\": {\"name\":"
                + " \"get_weather\", \"description\": \"Weather by city\", \"parameters\":"
                + " {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"},"
                + " \"days\": {\"type\": \"integer\", \"minimum\": 1, \"weight\": 0.5}},"
                + " \"required\": [\"city\"]}}}\n</tools>\n\nFor each function call, return a json"
                + " object with function name and arguments within <tool_call></tool_call> XML"
                + " tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\":"
                + " <args-json-object>}\n</tool_call><|im_end|>\n<|im_start|>user\nWhat's the"
                + " weather in Paris?<|im_end|>\n<|im_start|>assistant\n<tool_call>\n{\"name\":"
                + " \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\":"
                + " 2}}\n</tool_call><|im_end|>\n<|im_start|>user\n<tool_response>\n22C\n"
                + "</tool_response>\n<tool_response>\nsunny\n</tool_response><|im_end|>\n"
                + "<|im_start|>assistant\n");
  }

  @Test
  void qwen2StyleTemplateMultiTurnWithSystemPromptAndNoGenerationPrompt() throws Exception {
    writeConfig(resource("qwen2.jinja"), null, "<|im_end|>");
    ChatInput chat =
        ChatInput.newBuilder()
            .setMessagesJson(
                "[{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\","
                    + " \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Hello.\"},"
                    + " {\"role\": \"user\", \"content\": \"Bye\"}]")
            .build();
    assertThat(load().render(chat))
        .isEqualTo(
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                + "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n");
  }

  @Test
  void namedTemplatesPickToolUseOnlyWhenToolsArePassed() throws Exception {
    writeConfig(
        List.of(
            Map.of("name", "default", "template", "plain:{{ messages[0].content }}"),
            Map.of("name", "tool_use", "template", "tools:{{ tools | length }}")),
        "<s>",
        "</s>");
    ChatInput chat =
        ChatInput.newBuilder()
            .setMessagesJson("[{\"role\": \"user\", \"content\": \"x\"}]")
            .build();
    assertThat(load().render(chat)).isEqualTo("plain:x");
    assertThat(load().render(chat.toBuilder().setToolsJson("[{\"type\": \"function\"}]").build()))
        .isEqualTo("tools:1");
  }

  @Test
  void chatTemplateJinjaFileWinsOverTheConfigAndSpecialTokensAreVariables() throws Exception {
    writeConfig("config", "<s>", "</s>");
    Files.writeString(
        dir.resolve("chat_template.jinja"),
        "{{ bos_token }}{{ messages[0].content }}{{ eos_token }}");
    ChatInput chat =
        ChatInput.newBuilder()
            .setMessagesJson("[{\"role\": \"user\", \"content\": \"x\"}]")
            .build();
    assertThat(load().render(chat)).isEqualTo("<s>x</s>");
  }

  @Test
  void aModelWithoutATemplateHasNone() throws Exception {
    writeConfig(null, "<s>", "</s>");
    assertThat(ModelChatTemplate.load(dir)).isEmpty();
    assertThat(ModelChatTemplate.load(dir.resolve("missing"))).isEmpty();
  }

  @Test
  void templatesWithoutADefaultAndMalformedInputAreRefused() throws Exception {
    writeConfig(List.of(Map.of("name", "tool_use", "template", "t")), "<s>", "</s>");
    ChatInput chat =
        ChatInput.newBuilder()
            .setMessagesJson("[{\"role\": \"user\", \"content\": \"x\"}]")
            .build();
    assertThatThrownBy(() -> load().render(chat))
        .isInstanceOf(ChatTemplateException.class)
        .hasMessage("the model has chat templates named tool_use but none named default");
    writeConfig("{{ messages }}", "<s>", "</s>");
    assertThatThrownBy(() -> load().render(chat.toBuilder().setMessagesJson("[{").build()))
        .isInstanceOf(ChatTemplateException.class)
        .hasMessageStartingWith("messages is not valid JSON");
  }
}
