package dev.flotilla.worker.chat;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.api.v1.ChatInput;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A {@link ChatInput} rendered with a model's chat template into prompt text, with the variables
 * transformers' {@code apply_chat_template} passes: {@code messages}, {@code tools}, {@code
 * documents}, {@code add_generation_prompt} and the special tokens.
 */
public final class ChatPrompts {
  private static final ObjectMapper JSON = new ObjectMapper();

  private final ModelChatTemplate model;
  private final ChatTemplateRenderer renderer;

  public ChatPrompts(ModelChatTemplate model, ChatTemplateRenderer renderer) {
    this.model = model;
    this.renderer = renderer;
  }

  /**
   * @throws ChatTemplateException when the input is malformed or the template refuses it
   */
  public String render(ChatInput input) throws ChatTemplateException {
    Map<String, Object> variables = new HashMap<>(model.specialTokens());
    Object messages = parse("messages", input.getMessagesJson());
    if (!(messages instanceof List<?> list) || list.isEmpty()) {
      throw new ChatTemplateException("messages must be a non-empty JSON array");
    }
    variables.put("messages", messages);
    Object tools = input.getToolsJson().isEmpty() ? null : parse("tools", input.getToolsJson());
    if (tools != null) {
      variables.put("tools", tools);
    }
    if (!input.getDocumentsJson().isEmpty()) {
      variables.put("documents", parse("documents", input.getDocumentsJson()));
    }
    variables.put("add_generation_prompt", input.getAddGenerationPrompt());
    return renderer.render(model.pick(tools != null), variables);
  }

  private static Object parse(String field, String json) throws ChatTemplateException {
    try {
      return JSON.readValue(json, Object.class);
    } catch (JsonProcessingException e) {
      throw new ChatTemplateException(field + " is not valid JSON: " + e.getOriginalMessage());
    }
  }
}
