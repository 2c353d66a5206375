package dev.flotilla.gateway.tools;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.api.v1.ToolCall;
import dev.flotilla.api.v1.ToolCallDelta;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** Hermes-format tool calls come out of the text, however the text is split into chunks. */
class ToolCallTextTest {

  private static String feed(ToolCallText t, String text, int pieceLength) {
    return feed(t, text, pieceLength, new ArrayList<>());
  }

  /** Feeds {@code text} in pieces; returns the content and adds the deltas to {@code deltas}. */
  private static String feed(
      ToolCallText t, String text, int pieceLength, List<ToolCallDelta> deltas) {
    StringBuilder content = new StringBuilder();
    for (int i = 0; i < text.length(); i += pieceLength) {
      ToolCallText.Piece p = t.add(text.substring(i, Math.min(text.length(), i + pieceLength)));
      content.append(p.content());
      deltas.addAll(p.deltas());
    }
    ToolCallText.Piece rest = t.finish();
    deltas.addAll(rest.deltas());
    return content.append(rest.content()).toString();
  }

  /** Each call's arguments as the concatenation of its deltas, by index. */
  private static Map<Integer, String> argumentsByIndex(List<ToolCallDelta> deltas) {
    Map<Integer, String> out = new TreeMap<>();
    deltas.forEach(d -> out.merge(d.getIndex(), d.getArgumentsJson(), String::concat));
    return out;
  }

  @Test
  void callsAreTakenOutAndContentStays() {
    String output =
        "Let me check. <tool_call>\n{\"name\": \"weather\", \"arguments\": {\"city\": \"Oslo\"}}\n"
            + "</tool_call><tool_call>{\"name\":\"time\",\"arguments\":{}}</tool_call>";
    for (int piece : new int[] {1, 2, 3, 7, 1000}) {
      ToolCallText t = new ToolCallText();
      assertThat(feed(t, output, piece)).as("piece %d", piece).isEqualTo("Let me check. ");
      List<ToolCall> calls = t.calls();
      assertThat(calls).extracting(ToolCall::getName).containsExactly("weather", "time");
      assertThat(calls.get(0).getArgumentsJson()).isEqualTo("{\"city\":\"Oslo\"}");
      assertThat(calls.get(1).getArgumentsJson()).isEqualTo("{}");
      assertThat(calls.get(0).getId()).startsWith("call_").isNotEqualTo(calls.get(1).getId());
    }
  }

  @Test
  void textThatOnlyLooksLikeAStartIsShownOnceItCannotBe() {
    ToolCallText t = new ToolCallText();
    assertThat(t.add("a <tool").content()).isEqualTo("a ");
    assertThat(t.add("box> b").content()).isEqualTo("<toolbox> b");
    assertThat(t.finish().isEmpty()).isTrue();
    assertThat(t.calls()).isEmpty();
  }

  @Test
  void blocksThatAreNotCallsAndUnfinishedCallsStayContent() {
    ToolCallText t = new ToolCallText();
    String bad = "<tool_call>{\"arguments\": {}}</tool_call>";
    assertThat(feed(t, bad + " and <tool_call>{\"name\": \"f\", \"argu", 5))
        .isEqualTo(bad + " and <tool_call>{\"name\": \"f\", \"argu");
    assertThat(t.calls()).isEmpty();
  }

  @Test
  void argumentsStreamInPiecesAsTheModelWritesThem() {
    String output =
        "<tool_call>\n{\"name\": \"weather\", \"arguments\": {\"city\": \"Oslo } \\\" x\","
            + " \"days\": [1, 2]}}\n</tool_call>\n<tool_call>\n{\"name\": \"time\", \"arguments\":"
            + " {}}\n</tool_call>";
    for (int piece : new int[] {1, 2, 5, 1000}) {
      ToolCallText t = new ToolCallText();
      List<ToolCallDelta> deltas = new ArrayList<>();
      assertThat(feed(t, output, piece, deltas)).as("piece %d", piece).isEmpty();
      List<ToolCall> calls = t.calls();
      assertThat(calls).extracting(ToolCall::getName).containsExactly("weather", "time");
      assertThat(calls.get(0).getArgumentsJson())
          .isEqualTo("{\"city\":\"Oslo } \\\" x\",\"days\":[1,2]}");
      // the first delta of each call names it; the arguments add up to the whole call's
      ToolCallDelta first = deltas.get(0);
      assertThat(first.getIndex()).isZero();
      assertThat(first.getId()).isEqualTo(calls.get(0).getId());
      assertThat(first.getName()).isEqualTo("weather");
      assertThat(deltas.stream().filter(d -> !d.getName().isEmpty()))
          .extracting(ToolCallDelta::getIndex, ToolCallDelta::getName)
          .containsExactly(
              org.assertj.core.groups.Tuple.tuple(0, "weather"),
              org.assertj.core.groups.Tuple.tuple(1, "time"));
      assertThat(argumentsByIndex(deltas))
          .containsExactly(
              Map.entry(0, calls.get(0).getArgumentsJson()),
              Map.entry(1, calls.get(1).getArgumentsJson()));
      if (piece == 1) {
        // one character at a time: the arguments come in many deltas, not one at the end
        assertThat(deltas.stream().filter(d -> d.getIndex() == 0)).hasSizeGreaterThan(10);
      }
    }
  }

  @Test
  void aCallWhoseNameIsOutStaysACallWhenTheOutputEnds() {
    ToolCallText t = new ToolCallText();
    List<ToolCallDelta> deltas = new ArrayList<>();
    assertThat(feed(t, "<tool_call>{\"name\": \"f\", \"arguments\": {\"a\": [1, ", 3, deltas))
        .isEmpty();
    assertThat(t.calls())
        .singleElement()
        .satisfies(
            c -> {
              assertThat(c.getName()).isEqualTo("f");
              assertThat(c.getArgumentsJson()).isEqualTo("{\"a\":[1,");
            });
    assertThat(argumentsByIndex(deltas)).containsExactly(Map.entry(0, "{\"a\":[1,"));
  }

  @Test
  void aBlockInAnotherOrderIsReadWholeAtItsClose() {
    ToolCallText t = new ToolCallText();
    List<ToolCallDelta> deltas = new ArrayList<>();
    String block = "<tool_call>{\"arguments\": {\"x\": 1}, \"name\": \"g\"}</tool_call>";
    assertThat(feed(t, block, 4, deltas)).isEmpty();
    assertThat(deltas)
        .singleElement()
        .satisfies(
            d -> {
              assertThat(d.getName()).isEqualTo("g");
              assertThat(d.getArgumentsJson()).isEqualTo("{\"x\":1}");
            });
    assertThat(t.calls()).extracting(ToolCall::getArgumentsJson).containsExactly("{\"x\":1}");
  }
}
