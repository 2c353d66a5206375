package dev.flotilla.operator.status;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Sets conditions the Kubernetes way: one entry per type, and {@code lastTransitionTime} moves only
 * when the status flips, so an unchanged resource produces an unchanged status.
 */
public final class Conditions {
  private Conditions() {}

  /** A copy of {@code current} with the condition of {@code type} set as given. */
  public static List<Condition> set(
      List<Condition> current,
      String type,
      String status,
      String reason,
      String message,
      Long observedGeneration,
      Instant now) {
    List<Condition> result = new ArrayList<>();
    Condition previous = null;
    for (Condition c : current == null ? List.<Condition>of() : current) {
      if (type.equals(c.getType())) {
        previous = c;
      } else {
        result.add(c);
      }
    }
    String since =
        previous != null
                && Objects.equals(previous.getStatus(), status)
                && previous.getLastTransitionTime() != null
            ? previous.getLastTransitionTime()
            : now.toString();
    result.add(
        new ConditionBuilder()
            .withType(type)
            .withStatus(status)
            .withReason(reason)
            .withMessage(message)
            .withObservedGeneration(observedGeneration)
            .withLastTransitionTime(since)
            .build());
    result.sort((a, b) -> a.getType().compareTo(b.getType()));
    return result;
  }
}
