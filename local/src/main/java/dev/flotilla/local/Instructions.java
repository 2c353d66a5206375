package dev.flotilla.local;

import java.time.Duration;

/** What local mode prints once everything runs: how to call it and where things are. */
final class Instructions {
  static final String ACME_KEY = "flk_acme_demo_7f3c9a1e5b2d";
  static final String GLOBEX_KEY = "flk_globex_demo_2e8d4b6c0a9f";

  private Instructions() {}

  static String text(
      LocalSettings s, ApiServer api, PodNetwork network, KafkaBroker kafka, Duration took) {
    String kubectl = "kubectl --kubeconfig " + s.repo().relativize(s.kubeconfig());
    return """

        Flotilla runs locally (ready in %.1f s). Ctrl-C stops everything.

          gateway     gRPC 127.0.0.1:%d   HTTP http://127.0.0.1:%d   metrics http://127.0.0.1:%d/q/metrics
          API server  %s (in memory, HTTPS with a self-signed certificate)
          Kafka       %s
          workers     one process per pod, %s
          logs        %s

        Demo API keys (examples/tenants.yaml): acme   %s
                                               globex %s

          export FLOTILLA_API_KEY=%s
          ./flotilla models
          ./flotilla generate --model tiny-llama --adapter acme-support "Hello"

          curl -s http://127.0.0.1:%d/v1/completions -H "Authorization: Bearer $FLOTILLA_API_KEY" \\
            -H 'Content-Type: application/json' \\
            -d '{"model":"tiny-llama:acme-support","prompt":"Hello","max_tokens":16}'

          curl -s http://127.0.0.1:%d/v1/chat/completions -H "Authorization: Bearer $FLOTILLA_API_KEY" \\
            -H 'Content-Type: application/json' \\
            -d '{"model":"tiny-llama","messages":[{"role":"user","content":"Hello"}],"max_tokens":16}'

        tiny-llama scales to zero: the first request is held while a worker starts.

          %s get md,lora,tenants
          %s get pods -o wide
          %s scale md tiny-llama --replicas=1
          %s logs -l flotilla.dev/model=tiny-llama
          %s apply -f examples/
          %s delete md tiny-llama
        """
        .formatted(
            took.toMillis() / 1000.0,
            s.gatewayGrpcPort(),
            s.gatewayHttpPort(),
            s.gatewayManagementPort(),
            api.url(),
            kafka == null
                ? "off (--no-kafka): usage events wait in the gateway's spool"
                : kafka.bootstrapServers() + ", topic flotilla.usage",
            network.mode() == PodNetwork.Mode.LOOPBACK_ADDRESS_PER_POD
                ? "each on its own 127.0.0.x address"
                : "sharing 127.0.0.1 on ports named in their flotilla.dev/port-* annotations",
            s.logs(),
            ACME_KEY,
            GLOBEX_KEY,
            ACME_KEY,
            s.gatewayHttpPort(),
            s.gatewayHttpPort(),
            kubectl,
            kubectl,
            kubectl,
            kubectl,
            kubectl,
            kubectl);
  }
}
