package dev.flotilla.operator.leader;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import org.junit.jupiter.api.Test;

@EnableKubernetesMockClient(crud = true)
class LeaderPodLabelApiTest {
  KubernetesClient client;

  @Test
  void labelsTheLeadersOwnPodAndKeepsItsOtherLabels() {
    client
        .pods()
        .inNamespace("flotilla-system")
        .resource(
            new PodBuilder()
                .withNewMetadata()
                .withName("operator-0")
                .addToLabels("app.kubernetes.io/component", "operator")
                .endMetadata()
                .build())
        .create();

    new LeaderPodLabel(client, "flotilla-system", "operator-0").apply();

    assertThat(
            client
                .pods()
                .inNamespace("flotilla-system")
                .withName("operator-0")
                .get()
                .getMetadata()
                .getLabels())
        .containsEntry(LeaderPodLabel.LABEL, "true")
        .containsEntry("app.kubernetes.io/component", "operator");
  }

  @Test
  void aMissingPodIsLoggedNotThrown() {
    new LeaderPodLabel(client, "flotilla-system", "gone").apply();
    new LeaderPodLabel(client, null, null).apply();

    assertThat(client.pods().inAnyNamespace().list().getItems()).isEmpty();
  }
}
