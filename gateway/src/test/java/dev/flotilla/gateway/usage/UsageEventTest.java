package dev.flotilla.gateway.usage;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.HashSet;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class UsageEventTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  private static UsageEvent event(String requestId, String adapter) {
    return UsageEvent.of(
        requestId,
        "acme",
        "default/m",
        adapter,
        1,
        2,
        3,
        4,
        5,
        "OK",
        "STOP",
        1_700_000_000_000L,
        "gw-0");
  }

  @Test
  void eachEventHasItsOwnGatewayIdWhateverRequestIdTheClientRepeats() throws Exception {
    Set<String> ids = new HashSet<>();
    for (int i = 0; i < 1000; i++) {
      UsageEvent e = event("same-id", "");
      assertThat(e.requestId()).isEqualTo("same-id");
      ids.add(e.eventId());
    }
    assertThat(ids).hasSize(1000);
    UUID id = UUID.fromString(ids.iterator().next());
    assertThat(id.version()).isEqualTo(7);
    assertThat(id.variant()).isEqualTo(2);
    assertThat(id.getMostSignificantBits() >>> 16).as("epoch millis").isEqualTo(1_700_000_000_000L);

    JsonNode json = JSON.readTree(JSON.writeValueAsBytes(event("r", "")));
    assertThat(json.path("schemaVersion").asInt()).isEqualTo(UsageEvent.SCHEMA_VERSION);
    assertThat(json.path("eventId").asText()).hasSize(36);
    assertThat(json.path("requestId").asText()).isEqualTo("r");
  }

  @Test
  void clientStringsAreCutToTheLimitWithoutSplittingACharacter() {
    UsageEvent e = event("r".repeat(2_000_000), "a".repeat(10_000));
    assertThat(e.requestId()).hasSize(UsageEvent.MAX_CLIENT_CHARS);
    assertThat(e.adapter()).hasSize(UsageEvent.MAX_CLIENT_CHARS);
    String smiles = "x" + "\uD83D\uDE00".repeat(200); // a surrogate pair straddles the limit
    assertThat(event(smiles, "").requestId())
        .hasSize(UsageEvent.MAX_CLIENT_CHARS - 1)
        .endsWith("\uD83D\uDE00");
    assertThat(event("short", "").requestId()).isEqualTo("short");
  }
}
