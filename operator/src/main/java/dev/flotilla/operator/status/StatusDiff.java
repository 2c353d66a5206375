package dev.flotilla.operator.status;

import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Whether two statuses differ as the API server would store them (JSON), so unchanged status is
 * never written.
 */
public final class StatusDiff {
  private static final ObjectMapper JSON = new ObjectMapper();

  private StatusDiff() {}

  public static boolean differs(Object desired, Object current) {
    return !JSON.valueToTree(desired).equals(JSON.valueToTree(current));
  }
}
