package dev.flotilla.gateway.tools;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flotilla.api.v1.ToolCall;
import dev.flotilla.api.v1.ToolCallDelta;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Splits a model's output, as it streams, into content and tool calls written in the Hermes format
 * (Qwen 2.5/3, Hermes 2/3, and others' chat templates): {@code <tool_call>{"name": NAME,
 * "arguments": {...}}</tool_call>}, whitespace around the JSON allowed, several calls in a row
 * allowed. Text that might still become the start of a call is held back until it cannot.
 *
 * <p>A call that starts {@code {"name": ..., "arguments": {} streams as OpenAI streams calls: a
 * first delta with its index, id and name, then its arguments as the model writes them (without
 * the whitespace outside strings). Once its name is out it is a call, even if its arguments never
 * close (the output ended, say: the finish reason tells). Any other block is read whole at its
 * {@code </tool_call>}: a call when its JSON is one (its arguments as compact JSON), content as
 * written when it is not (no name, arguments not an object).
 */
public final class ToolCallText {
  static final String OPEN = "<tool_call>";
  static final String CLOSE = "</tool_call>";
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern HEAD =
      Pattern.compile(
          "\\s*\\{\\s*\"name\"\\s*:\\s*(\"(?:[^\"\\\\]|\\\\.)*\")\\s*,\\s*\"arguments\"\\s*:\\s*(?=\\{)");
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final String ID_ALPHABET =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

  /** What one piece of output text became: content to show and tool-call deltas. */
  public record Piece(String content, List<ToolCallDelta> deltas) {
    public boolean isEmpty() {
      return content.isEmpty() && deltas.isEmpty();
    }
  }

  private enum Phase {
    /** outside a call */
    TEXT,
    /** after {@code <tool_call>}, before the head is recognised or ruled out */
    HEAD,
    /** streaming the arguments object */
    ARGUMENTS,
    /** the arguments object is whole: waiting for {@code </tool_call>} */
    TAIL,
    /** a block read whole at its close */
    BLOCK
  }

  private final StringBuilder held = new StringBuilder();
  private final List<ToolCall> calls = new ArrayList<>();
  private Phase phase = Phase.TEXT;
  // the call being streamed (ARGUMENTS, TAIL)
  private ToolCall.Builder current;
  private final StringBuilder arguments = new StringBuilder();
  private int depth;
  private boolean inString;
  private boolean escaped;
  // a call just ended: whitespace is held until text or the next call shows what it is
  private boolean afterCall;

  /** Adds output text; returns what can be shown now (may be empty). */
  public Piece add(String text) {
    held.append(text);
    StringBuilder content = new StringBuilder();
    List<ToolCallDelta> deltas = new ArrayList<>();
    while (step(content, deltas)) {}
    return new Piece(content.toString(), List.copyOf(deltas));
  }

  /**
   * The output ended: the text still held (an unfinished block stays content, as written; a call
   * whose name is out stays a call).
   */
  public Piece finish() {
    String rest =
        switch (phase) {
          case HEAD, BLOCK -> OPEN + held;
          case TEXT -> afterCall && held.toString().isBlank() ? "" : held.toString();
          case ARGUMENTS, TAIL -> {
            closeCall();
            yield "";
          }
        };
    held.setLength(0);
    phase = Phase.TEXT;
    afterCall = false;
    return new Piece(rest, List.of());
  }

  /** Whether the text so far ends inside a {@code <tool_call>} block. */
  public boolean inCall() {
    return phase != Phase.TEXT;
  }

  /** The calls parsed so far, in order. */
  public List<ToolCall> calls() {
    return List.copyOf(calls);
  }

  /** Consumes what it can of {@link #held}; false when it needs more text. */
  private boolean step(StringBuilder content, List<ToolCallDelta> deltas) {
    switch (phase) {
      case TEXT -> {
        if (afterCall) {
          // whitespace between calls, or after the last one, is the format's, not content
          int k = 0;
          while (k < held.length() && Character.isWhitespace(held.charAt(k))) {
            k++;
          }
          String rest = held.substring(k);
          if (rest.isEmpty() || (rest.length() < OPEN.length() && OPEN.startsWith(rest))) {
            return false;
          }
          afterCall = false;
          if (rest.startsWith(OPEN)) {
            held.delete(0, k);
          }
        }
        int open = held.indexOf(OPEN);
        if (open >= 0) {
          content.append(held, 0, open);
          held.delete(0, open + OPEN.length());
          phase = Phase.HEAD;
          return true;
        }
        int keep = partialSuffix(held, OPEN);
        content.append(held, 0, held.length() - keep);
        held.delete(0, held.length() - keep);
        return false;
      }
      case HEAD -> {
        Matcher m = HEAD.matcher(held);
        String name = m.lookingAt() ? jsonString(m.group(1)) : null;
        if (name != null && !name.isEmpty()) {
          held.delete(0, m.end());
          current = ToolCall.newBuilder().setId(newId()).setName(name);
          deltas.add(
              ToolCallDelta.newBuilder()
                  .setIndex(calls.size())
                  .setId(current.getId())
                  .setName(name)
                  .build());
          arguments.setLength(0);
          depth = 0;
          inString = false;
          escaped = false;
          phase = Phase.ARGUMENTS;
          return true;
        }
        if (name == null && m.hitEnd() && held.indexOf(CLOSE) < 0) {
          return false; // may still become a head
        }
        phase = Phase.BLOCK;
        return true;
      }
      case ARGUMENTS -> {
        return arguments(deltas);
      }
      case TAIL -> {
        int close = held.indexOf(CLOSE);
        if (close < 0) {
          // the wrapper's closing brace and whitespace: nothing to show
          int keep = partialSuffix(held, CLOSE);
          held.delete(0, held.length() - keep);
          return false;
        }
        held.delete(0, close + CLOSE.length());
        closeCall();
        phase = Phase.TEXT;
        return true;
      }
      case BLOCK -> {
        int close = held.indexOf(CLOSE);
        if (close < 0) {
          return false;
        }
        String block = held.substring(0, close);
        held.delete(0, close + CLOSE.length());
        phase = Phase.TEXT;
        ToolCall call = parse(block);
        if (call == null) {
          content.append(OPEN).append(block).append(CLOSE);
        } else {
          deltas.add(
              ToolCallDelta.newBuilder()
                  .setIndex(calls.size())
                  .setId(call.getId())
                  .setName(call.getName())
                  .setArgumentsJson(call.getArgumentsJson())
                  .build());
          calls.add(call);
          afterCall = true;
        }
        return true;
      }
    }
    throw new IllegalStateException("unknown phase " + phase);
  }

  /**
   * Moves the arguments object's text out of {@link #held} up to its closing brace, as one delta; a
   * {@code </tool_call>} outside a string ends a malformed object early.
   */
  private boolean arguments(List<ToolCallDelta> deltas) {
    StringBuilder piece = new StringBuilder();
    int i = 0;
    boolean whole = false;
    boolean closed = false;
    for (; i < held.length(); i++) {
      char c = held.charAt(i);
      if (inString) {
        piece.append(c);
        if (escaped) {
          escaped = false;
        } else if (c == '\\') {
          escaped = true;
        } else if (c == '"') {
          inString = false;
        }
        continue;
      }
      if (c == '<') {
        int left = held.length() - i;
        if (left < CLOSE.length() && CLOSE.startsWith(held.substring(i))) {
          break; // may be the close: wait for more text
        }
        if (held.indexOf(CLOSE, i) == i) {
          closed = true;
          break;
        }
      }
      if (Character.isWhitespace(c)) {
        continue;
      }
      piece.append(c);
      if (c == '"') {
        inString = true;
      } else if (c == '{' || c == '[') {
        depth++;
      } else if ((c == '}' || c == ']') && --depth == 0) {
        i++;
        whole = true;
        break;
      }
    }
    held.delete(0, i);
    if (!piece.isEmpty()) {
      arguments.append(piece);
      deltas.add(
          ToolCallDelta.newBuilder()
              .setIndex(calls.size())
              .setArgumentsJson(piece.toString())
              .build());
    }
    if (closed) {
      held.delete(0, CLOSE.length());
      closeCall();
      phase = Phase.TEXT;
      return true;
    }
    if (whole) {
      phase = Phase.TAIL;
      return true;
    }
    return false;
  }

  private void closeCall() {
    calls.add(current.setArgumentsJson(arguments.toString()).build());
    afterCall = true;
    current = null;
    arguments.setLength(0);
  }

  /** Length of the longest suffix of {@code text} that is a proper prefix of {@code tag}. */
  private static int partialSuffix(CharSequence text, String tag) {
    for (int n = Math.min(tag.length() - 1, text.length()); n > 0; n--) {
      if (tag.startsWith(text.subSequence(text.length() - n, text.length()).toString())) {
        return n;
      }
    }
    return 0;
  }

  private static String jsonString(String literal) {
    try {
      return JSON.readTree(literal).asText();
    } catch (java.io.IOException e) {
      return ""; // a malformed escape: not a head
    }
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
