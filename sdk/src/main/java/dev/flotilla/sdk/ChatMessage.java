package dev.flotilla.sdk;

import java.util.List;
import java.util.Objects;

/**
 * One message of a conversation, rendered into the prompt by the model's own chat template.
 *
 * @param role {@code system}, {@code user}, {@code assistant} or {@code tool}
 * @param content the text; null only for an assistant message that carries tool calls
 * @param toolCalls an assistant message's earlier calls; else empty
 * @param toolCallId a tool message's answer is to this call; else empty
 */
public record ChatMessage(
    String role, String content, List<ToolCall> toolCalls, String toolCallId) {
  public ChatMessage {
    Objects.requireNonNull(role, "role");
    Objects.requireNonNull(toolCallId, "toolCallId");
    toolCalls = List.copyOf(toolCalls);
    if (content == null && toolCalls.isEmpty()) {
      throw new IllegalArgumentException(
          "only an assistant message with tool calls has no content");
    }
  }

  /** Instructions for the model. */
  public static ChatMessage system(String content) {
    return new ChatMessage("system", Objects.requireNonNull(content), List.of(), "");
  }

  /** What the user said. */
  public static ChatMessage user(String content) {
    return new ChatMessage("user", Objects.requireNonNull(content), List.of(), "");
  }

  /** What the model answered earlier. */
  public static ChatMessage assistant(String content) {
    return new ChatMessage("assistant", Objects.requireNonNull(content), List.of(), "");
  }

  /** The assistant's turn that called tools (as a result's {@code toolCalls} came back). */
  public static ChatMessage assistantCalls(List<ToolCall> calls) {
    return new ChatMessage("assistant", null, calls, "");
  }

  /** A tool's answer to the call {@code toolCallId}. */
  public static ChatMessage tool(String toolCallId, String content) {
    return new ChatMessage("tool", Objects.requireNonNull(content), List.of(), toolCallId);
  }

  /** The message as the chat template reads it; a call's arguments as an object, as it expects. */
  String toJson() {
    StringBuilder json = new StringBuilder("{\"role\":");
    Json.string(json, role);
    json.append(",\"content\":");
    if (content == null) {
      json.append("null");
    } else {
      Json.string(json, content);
    }
    if (!toolCalls.isEmpty()) {
      json.append(",\"tool_calls\":[");
      for (int i = 0; i < toolCalls.size(); i++) {
        ToolCall call = toolCalls.get(i);
        json.append(i == 0 ? "" : ",").append("{\"id\":");
        Json.string(json, call.id());
        json.append(",\"type\":\"function\",\"function\":{\"name\":");
        Json.string(json, call.name());
        json.append(",\"arguments\":").append(call.argumentsJson()).append("}}");
      }
      json.append(']');
    }
    if (!toolCallId.isEmpty()) {
      json.append(",\"tool_call_id\":");
      Json.string(json, toolCallId);
    }
    return json.append('}').toString();
  }
}
