package dev.flotilla.gateway.app;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/** Every gateway setting, under {@code flotilla.gateway}. */
@ConfigMapping(prefix = "flotilla.gateway")
public interface GatewayConfig {
  /** Id of this replica in usage events and demand reports; the host name when unset. */
  Optional<String> id();

  /** {@code max_tokens} when a request leaves it 0. */
  @WithDefault("256")
  int defaultMaxTokens();

  /** Workers tried for one request that fails before its first token. */
  @WithDefault("3")
  int maxAttempts();

  /** Retry hint when only the concurrency limit refuses. */
  @WithDefault("1s")
  Duration concurrencyRetryAfter();

  /** Bounded-load consistent hashing factor c. */
  @WithDefault("1.25")
  double loadFactor();

  /**
   * Route a request to the worker holding the longest prefix of its prompt (under the load bound),
   * where that prefix's KV is likely still cached; false routes by adapter and load alone.
   */
  @WithDefault("true")
  boolean prefixAffinity();

  /** Distinct tenant label values in metrics before the rest become {@code other}. */
  @WithDefault("100")
  int maxTenantLabels();

  Hold hold();

  Queue queue();

  Http http();

  Workers workers();

  Usage usage();

  Autoscaler autoscaler();

  Mtls mtls();

  /**
   * Namespaces whose Secrets labelled {@code flotilla.dev/tenant-keys=true} hold Tenants' API-key
   * hashes; unset: every namespace. The gateway watches only those Secrets, so it needs read access
   * to Secrets in these namespaces alone (the chart's Roles).
   */
  Optional<List<String>> tenantSecretNamespaces();

  Replicas replicas();

  /** Start the Kubernetes informers (tenants, secrets, models, adapters, worker pods). */
  @WithDefault("true")
  boolean informers();

  interface Hold {
    /** Requests held for one cold model. */
    @WithDefault("1000")
    int maxPerModel();

    /** Requests one tenant may have held for one cold model. */
    @WithDefault("100")
    int maxPerTenant();

    /**
     * Bytes of requests (their prompts, mostly) one tenant may have held across all cold models;
     * beyond it RESOURCE_EXHAUSTED (HTTP 429). 32 MiB: thousands of ordinary prompts, eight of the
     * largest a gRPC message or HTTP body may carry (4 MiB).
     */
    @WithDefault("33554432")
    long maxBytesPerTenant();

    /** RetryInfo delay after a cold-start timeout or a full hold queue. */
    @WithDefault("5s")
    Duration retryAfter();

    /** How often held clients that asked for it get a HeldProgress message. */
    @WithDefault("1s")
    Duration progressInterval();
  }

  interface Queue {
    /**
     * Longest wait in a model's fair queue while it has ready but saturated workers; then
     * UNAVAILABLE (HTTP 503) with RetryInfo. Cold holds have the model's coldStartTimeout.
     */
    @WithDefault("30s")
    Duration timeout();

    /** RetryInfo delay after a queue timeout. */
    @WithDefault("2s")
    Duration retryAfter();
  }

  /** The OpenAI-compatible HTTP surface ({@code /v1/...} on the HTTP port). */
  interface Http {
    /**
     * The deadline of an HTTP request (HTTP has no deadline header; gRPC clients send their own):
     * past it the request is cancelled and answered 504.
     */
    @WithDefault("10m")
    Duration timeout();

    /** Largest request body accepted. */
    @WithDefault("4194304")
    long maxBodyBytes();
  }

  interface Workers {
    /** gRPC port of worker pods. */
    @WithDefault("9100")
    int port();

    /** Pods with this label serve the model it names (same namespace). */
    @WithDefault("flotilla.dev/model")
    String modelLabel();

    @WithDefault("1000")
    int statsIntervalMs();
  }

  interface Usage {
    /**
     * The spool volume: each gateway claims a {@code spool-<n>} subdirectory no live process holds
     * (adopting what a predecessor left there) and sends orphaned ones. Give it a persistent volume
     * in production; replicas may share one.
     */
    @WithDefault("usage-spool")
    String spoolDir();

    @WithDefault("16777216")
    long segmentBytes();

    /**
     * Most bytes this gateway's spool may hold; events past it are refused (logged, the client
     * still answered). A WARN is logged at 80%. Keep it below the volume's size.
     */
    @WithDefault("805306368")
    long spoolMaxBytes();

    /**
     * How long a stopping gateway keeps sending spooled events to Kafka before it exits; keep it
     * below the pod's termination grace period.
     */
    @WithDefault("20s")
    Duration drainTimeout();

    /** How often the gateway looks for spools nobody holds and sends what they contain. */
    @WithDefault("60s")
    Duration orphanInterval();

    /** Kafka bootstrap servers; without them events stay in the spool until configured. */
    Optional<String> kafkaBootstrapServers();

    /** How the producer connects to the brokers and proves who it is. */
    KafkaSecurity kafkaSecurity();

    /** Kafka's client security settings, as {@code dev.flotilla.gateway.usage.KafkaSecurity}. */
    interface KafkaSecurity {
      /** {@code security.protocol}: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL. */
      @WithDefault("PLAINTEXT")
      String protocol();

      /** {@code sasl.mechanism}: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, ... (SASL protocols). */
      Optional<String> saslMechanism();

      /** {@code sasl.jaas.config}: the login module and its credentials (SASL protocols). */
      Optional<String> saslJaasConfig();

      /** PEM file of the CAs that sign the brokers' certificates; unset: the JVM's trust store. */
      Optional<String> truststore();
    }

    @WithDefault("flotilla.usage")
    String topic();

    @WithDefault("120s")
    Duration deliveryTimeout();

    @WithDefault("30s")
    Duration maxBackoff();
  }

  interface Autoscaler {
    /** host:port of the operator's Autoscaler gRPC service; no reports when unset. */
    Optional<String> address();

    @WithDefault("5s")
    Duration reportInterval();
  }

  /**
   * Mutual TLS on the gateway's own calls: to workers (gRPC 9100) and to the operator's demand
   * stream (9200). The gateway presents its certificate from the operator's CA and checks that a
   * worker proves the model it is dialled for, and the operator its own identity.
   */
  interface Mtls {
    /** Off only where plaintext is meant (tests). */
    @WithDefault("true")
    boolean enabled();

    /** tls.crt, tls.key and ca.crt, as the gateway's TLS Secret volume mounts them. */
    @WithDefault("/var/run/flotilla/mtls")
    String dir();

    /** How often the files are looked at again for a renewed certificate or a new trust bundle. */
    @WithDefault("10s")
    Duration reloadInterval();
  }

  /**
   * The gateway's own replicas, counted so that a tenant's limits hold for the tenant and not per
   * replica: each replica enforces its share ({@code limits.ReplicaShare}) while it sees N ready
   * pods of its Deployment.
   */
  interface Replicas {
    /**
     * Label selector of the gateway's pods ({@code key=value,...}); unset, every replica enforces
     * each tenant's whole limits, so N replicas admit N times them.
     */
    Optional<String> selector();

    /** Namespace of the gateway's pods; the Kubernetes client's namespace when unset. */
    Optional<String> namespace();
  }
}
