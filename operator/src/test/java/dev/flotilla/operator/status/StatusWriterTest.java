package dev.flotilla.operator.status;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.flotilla.api.crd.ModelDeployment;
import dev.flotilla.api.crd.ModelDeploymentSpec;
import dev.flotilla.api.crd.ModelDeploymentStatus;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.util.List;
import org.junit.jupiter.api.Test;

class StatusWriterTest {
  final KubernetesSerialization json = new KubernetesSerialization();

  @Test
  void patchReplacesTheWholeStatusOnTheResourceVersionItWasComputedFrom() {
    ModelDeployment read = new ModelDeployment();
    read.setMetadata(
        new ObjectMetaBuilder()
            .withName("m")
            .withNamespace("ns")
            .withResourceVersion("41")
            .withGeneration(2L)
            .build());
    read.setSpec(new ModelDeploymentSpec());
    ModelDeploymentStatus before = new ModelDeploymentStatus();
    before.setPool("l4");
    read.setStatus(before);
    ModelDeploymentStatus after = new ModelDeploymentStatus();
    after.setObservedGeneration(2L);
    after.setConditions(
        List.of(new ConditionBuilder().withType("Placed").withStatus("False").build()));

    String patch = json.asJson(StatusWriter.patch(json, read, after));

    assertThat(json.unmarshal(patch, JsonNode.class))
        .isEqualTo(
            json.unmarshal(
                """
        [{"op": "add", "path": "/metadata/resourceVersion", "value": "41"},
         {"op": "add", "path": "/status", "value": {"observedGeneration": 2,
           "conditions": [{"status": "False", "type": "Placed"}]}}]""",
                JsonNode.class));
  }
}
