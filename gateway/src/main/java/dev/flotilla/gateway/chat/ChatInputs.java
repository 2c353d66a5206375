package dev.flotilla.gateway.chat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flotilla.api.v1.ChatInput;
import dev.flotilla.gateway.status.GatewayStatus;

/**
 * An OpenAI chat body's conversation as a {@link ChatInput}: what the model's chat template reads.
 * The worker serving the model renders it with the template from the model's files (see
 * docs/architecture.md, "Chat templates"); the gateway only checks the shape.
 *
 * <p>Messages keep every field the client sent (templates read {@code tool_calls}, {@code
 * tool_call_id}, {@code name}, ...), with the normalisations templates expect (and vLLM applies):
 * role {@code developer} becomes {@code system}, content given as text parts becomes one string,
 * and a tool call's {@code arguments}, a JSON string in OpenAI's API, becomes the object it holds
 * (templates write it with {@code tojson}). {@code tools} and {@code documents} (a vLLM extension)
 * pass through as given; {@code add_generation_prompt} (a vLLM extension) is true unless the body
 * says false.
 */
public final class ChatInputs {
  private static final ObjectMapper JSON = new ObjectMapper();

  private ChatInputs() {}

  public static ChatInput of(JsonNode body) {
    JsonNode ms = body.path("messages");
    if (!ms.isArray() || ms.isEmpty()) {
      throw GatewayStatus.invalidArgument("messages", "must be a non-empty list");
    }
    ArrayNode messages = JSON.createArrayNode();
    for (JsonNode m : ms) {
      messages.add(message(m));
    }
    ChatInput.Builder chat = ChatInput.newBuilder().setMessagesJson(messages.toString());
    JsonNode tools = body.path("tools");
    if (!isNull(tools)) {
      if (!tools.isArray() || !allObjects(tools)) {
        throw GatewayStatus.invalidArgument("tools", "must be a list of tool objects");
      }
      if (!tools.isEmpty()) {
        chat.setToolsJson(tools.toString());
      }
    }
    JsonNode documents = body.path("documents");
    if (!isNull(documents)) {
      if (!documents.isArray() || !allObjects(documents)) {
        throw GatewayStatus.invalidArgument("documents", "must be a list of objects");
      }
      chat.setDocumentsJson(documents.toString());
    }
    JsonNode generationPrompt = body.path("add_generation_prompt");
    if (!isNull(generationPrompt) && !generationPrompt.isBoolean()) {
      throw GatewayStatus.invalidArgument("add_generation_prompt", "must be a boolean");
    }
    return chat.setAddGenerationPrompt(generationPrompt.asBoolean(true)).build();
  }

  private static ObjectNode message(JsonNode m) {
    if (!m.isObject()) {
      throw GatewayStatus.invalidArgument("messages", "each message must be an object");
    }
    ObjectNode out = ((ObjectNode) m).deepCopy();
    String role = m.path("role").asText("");
    switch (role) {
      case "developer" -> out.put("role", "system");
      case "system", "user", "assistant", "tool" -> {}
      default ->
          throw GatewayStatus.invalidArgument(
              "messages",
              "role must be system, developer, user, assistant or tool, not \"" + role + "\"");
    }
    JsonNode content = m.path("content");
    if (content.isArray()) {
      out.put("content", text(content));
    } else if (isNull(content)) {
      if (!role.equals("assistant") || isNull(m.path("tool_calls"))) {
        throw GatewayStatus.invalidArgument(
            "messages", "content may be left out only by an assistant message with tool_calls");
      }
    } else if (!content.isTextual()) {
      throw GatewayStatus.invalidArgument("messages", "content must be a string or text parts");
    }
    for (JsonNode call : out.path("tool_calls")) {
      JsonNode arguments = call.path("function").path("arguments");
      if (arguments.isTextual()) {
        ((ObjectNode) call.get("function")).set("arguments", argumentsObject(arguments.asText()));
      }
    }
    return out;
  }

  private static JsonNode argumentsObject(String json) {
    try {
      JsonNode parsed = JSON.readTree(json);
      if (parsed != null && parsed.isObject()) {
        return parsed;
      }
    } catch (java.io.IOException e) {
      // refused below
    }
    throw GatewayStatus.invalidArgument(
        "messages", "a tool call's function.arguments must be a JSON object (as a string)");
  }

  /** Text parts joined; images and audio are refused. */
  private static String text(JsonNode parts) {
    StringBuilder text = new StringBuilder();
    for (JsonNode part : parts) {
      if (!part.path("type").asText().equals("text") || !part.path("text").isTextual()) {
        throw GatewayStatus.invalidArgument("messages", "only text content parts are supported");
      }
      text.append(part.path("text").asText());
    }
    return text.toString();
  }

  private static boolean allObjects(JsonNode list) {
    for (JsonNode item : list) {
      if (!item.isObject()) {
        return false;
      }
    }
    return true;
  }

  private static boolean isNull(JsonNode v) {
    return v == null || v.isMissingNode() || v.isNull();
  }
}
