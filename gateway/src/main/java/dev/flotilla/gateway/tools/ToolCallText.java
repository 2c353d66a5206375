package dev.flotilla.gateway.tools;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.api.v1.ToolCall;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;

/**
 * Splits a model's output, as it streams, into content and tool calls written in the Hermes format
 * (Qwen 2.5/3, Hermes 2/3, and others' chat templates): {@code <tool_call>{"name": NAME,
 * "arguments": {...}}</tool_call>}, whitespace around the JSON allowed, several calls in a row
 * allowed. Text that might still become the start of a call is held back until it cannot; a block
 * whose JSON is not a call (no name, arguments not an object) stays content, as written.
 */
public final class ToolCallText {
  static final String OPEN = "<tool_call>";
  static final String CLOSE = "</tool_call>";
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final String ID_ALPHABET =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

  private final StringBuilder held = new StringBuilder();
  private final List<ToolCall> calls = new ArrayList<>();
  private boolean inCall;

  /** Adds output text; returns the content that can be shown now (may be empty). */
  public String add(String text) {
    held.append(text);
    StringBuilder content = new StringBuilder();
    while (true) {
      if (inCall) {
        int close = held.indexOf(CLOSE);
        if (close < 0) {
          return content.toString();
        }
        String block = held.substring(0, close);
        held.delete(0, close + CLOSE.length());
        inCall = false;
        ToolCall call = parse(block);
        if (call == null) {
          content.append(OPEN).append(block).append(CLOSE);
        } else {
          calls.add(call);
        }
        continue;
      }
      int open = held.indexOf(OPEN);
      if (open >= 0) {
        content.append(held, 0, open);
        held.delete(0, open + OPEN.length());
        inCall = true;
        continue;
      }
      int keep = partialOpen(held);
      content.append(held, 0, held.length() - keep);
      held.delete(0, held.length() - keep);
      return content.toString();
    }
  }

  /** The output ended: the text still held (an unfinished call stays content, as written). */
  public String finish() {
    String rest = (inCall ? OPEN : "") + held;
    held.setLength(0);
    inCall = false;
    return rest;
  }

  /** The calls parsed so far, in order. */
  public List<ToolCall> calls() {
    return List.copyOf(calls);
  }

  /** Length of the longest suffix of {@code text} that is a proper prefix of {@link #OPEN}. */
  private static int partialOpen(CharSequence text) {
    for (int n = Math.min(OPEN.length() - 1, text.length()); n > 0; n--) {
      if (OPEN.startsWith(text.subSequence(text.length() - n, text.length()).toString())) {
        return n;
      }
    }
    return 0;
  }

  private static ToolCall parse(String block) {
    JsonNode call;
    try {
      call = JSON.readTree(block.strip());
    } catch (java.io.IOException e) {
      return null;
    }
    if (call == null
        || !call.path("name").isTextual()
        || call.path("name").asText().isEmpty()
        || !(call.path("arguments").isObject() || call.path("arguments").isMissingNode())) {
      return null;
    }
    JsonNode arguments = call.path("arguments");
    return ToolCall.newBuilder()
        .setId(newId())
        .setName(call.path("name").asText())
        .setArgumentsJson(arguments.isMissingNode() ? "{}" : arguments.toString())
        .build();
  }

  private static String newId() {
    StringBuilder id = new StringBuilder("call_");
    for (int i = 0; i < 24; i++) {
      id.append(ID_ALPHABET.charAt(RANDOM.nextInt(ID_ALPHABET.length())));
    }
    return id.toString();
  }
}
