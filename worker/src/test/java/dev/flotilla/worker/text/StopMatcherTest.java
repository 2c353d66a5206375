package dev.flotilla.worker.text;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class StopMatcherTest {
  @Test
  void passesTextThroughWithoutStops() {
    StopMatcher m = new StopMatcher(List.of());
    assertThat(m.push("abc")).isEqualTo(new StopMatcher.Result("abc", false));
    assertThat(m.flush()).isEmpty();
  }

  @Test
  void holdsBackAPossibleStartAndCutsBeforeTheStop() {
    StopMatcher m = new StopMatcher(List.of("END", "\n\n"));
    assertThat(m.push("hello E")).isEqualTo(new StopMatcher.Result("hello ", false));
    assertThat(m.push("N")).isEqualTo(new StopMatcher.Result("", false));
    assertThat(m.push("Dless")).isEqualTo(new StopMatcher.Result("", true));
    assertThat(m.push("more")).isEqualTo(new StopMatcher.Result("", true));
    assertThat(m.flush()).isEmpty();
  }

  @Test
  void releasesHeldTextThatTurnsOutNotToBeAStop() {
    StopMatcher m = new StopMatcher(List.of("END"));
    assertThat(m.push("EN")).isEqualTo(new StopMatcher.Result("", false));
    assertThat(m.push("x")).isEqualTo(new StopMatcher.Result("ENx", false));
    assertThat(m.push("E")).isEqualTo(new StopMatcher.Result("", false));
    assertThat(m.flush()).isEqualTo("E");
  }

  @Test
  void theEarliestStopWins() {
    StopMatcher m = new StopMatcher(List.of("cd", "b"));
    assertThat(m.push("abcd")).isEqualTo(new StopMatcher.Result("a", true));
  }
}
