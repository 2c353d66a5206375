package dev.flotilla.chart;

import static dev.flotilla.chart.FlotillaChart.NAMESPACE;
import static org.assertj.core.api.Assertions.assertThat;

import com.marcnuri.helm.Helm;
import org.junit.jupiter.api.Test;

/** What `helm install` tells the person who ran it (a client-only dry run: no cluster). */
class ChartNotesTest {

  @Test
  void notesSayHowToReachTheGatewayCreateATenantAndServeAModel() {
    String output =
        new Helm(FlotillaChart.chartDir())
            .install()
            .withName("flotilla")
            .withNamespace(NAMESPACE)
            .clientOnly()
            .dryRun()
            .call()
            .getOutput();
    String notes = output.substring(output.indexOf("NOTES:"));

    assertThat(notes)
        .contains("kubectl -n " + NAMESPACE + " port-forward svc/flotilla-gateway 9000 8080")
        .contains("printf '%s' \"$KEY\" | sha256sum")
        .contains("kind: Tenant", "name: acme-api-keys")
        .contains(
            "kubectl label secret acme-api-keys -n " + NAMESPACE + " flotilla.dev/tenant-keys=true")
        .contains("kubectl apply -f examples/gpu-node-pool.yaml -f examples/model-deployment.yaml")
        .contains("ghcr.io/flotilla-dev/flotilla-worker:0.1.0");
  }
}
