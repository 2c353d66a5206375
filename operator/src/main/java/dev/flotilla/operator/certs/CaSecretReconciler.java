package dev.flotilla.operator.certs;

import dev.flotilla.mtls.Identities;
import dev.flotilla.mtls.ca.CertificateAuthority;
import dev.flotilla.mtls.ca.CertificatePolicy;
import dev.flotilla.mtls.ca.IssuedCertificate;
import dev.flotilla.mtls.ca.Usage;
import dev.flotilla.operator.config.OperatorSettings;
import dev.flotilla.operator.leader.Leadership;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.SecretList;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.NonNamespaceOperation;
import io.fabric8.kubernetes.client.dsl.Resource;
import java.net.HttpURLConnection;
import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * Keeps the internal CA and the control plane's certificates in their Secrets, in the operator's
 * namespace, as named, idempotent steps on every pass:
 *
 * <ol>
 *   <li>{@link #applyCa}: read the CA Secret, create it on first start, {@linkplain
 *       CertificateAuthority#rotate rotate} it when due, and publish it to {@link CurrentCa};
 *   <li>{@link #applyWorkload} for the gateways' client certificate and the operator's own
 *       demand-stream certificate: issued again when {@link CertificateAuthority#renewalReason}
 *       says so.
 * </ol>
 *
 * Only the leader writes; a standby does nothing and reads its own certificate from its mounted
 * files. Writes carry the resourceVersion they were computed from, so two replicas that both
 * believe they lead (a Lease hand-over) cannot overwrite each other's CA: the loser gets 409 and
 * reads the winner's on its next pass. Passes run every second until the CA is known, then when the
 * next renewal or rotation is due, at least every {@code checkInterval}.
 */
public final class CaSecretReconciler implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(CaSecretReconciler.class);
  private static final Duration UNTIL_KNOWN = Duration.ofSeconds(1);

  private final KubernetesClient client;
  private final OperatorSettings.Mtls settings;
  private final String namespace;
  private final CertificatePolicy policy;
  private final Leadership leadership;
  private final CurrentCa current;
  private final Clock clock;
  private final ScheduledExecutorService loop =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "flotilla-ca");
            t.setDaemon(true);
            return t;
          });

  public CaSecretReconciler(
      KubernetesClient client,
      OperatorSettings settings,
      Leadership leadership,
      CurrentCa current,
      Clock clock) {
    this.client = client;
    this.settings = settings.mtls();
    this.namespace = settings.namespace();
    this.policy = policy(settings.mtls());
    this.leadership = leadership;
    this.current = current;
    this.clock = clock;
  }

  static CertificatePolicy policy(OperatorSettings.Mtls mtls) {
    return new CertificatePolicy(mtls.caLifetime(), mtls.workloadLifetime(), mtls.caPropagation());
  }

  public CaSecretReconciler start() {
    loop.execute(this::pass);
    return this;
  }

  private void pass() {
    Duration next = UNTIL_KNOWN;
    try {
      next = reconcile().map(this::delayUntil).orElse(UNTIL_KNOWN);
    } catch (RuntimeException e) {
      LOG.errorf(e, "checking the CA and the control plane's certificates failed");
    }
    if (!loop.isShutdown()) {
      loop.schedule(this::pass, next.toMillis(), TimeUnit.MILLISECONDS);
    }
  }

  private Duration delayUntil(Instant due) {
    Duration until = Duration.between(clock.instant(), due);
    if (until.compareTo(UNTIL_KNOWN) < 0) {
      return UNTIL_KNOWN;
    }
    return until.compareTo(settings.checkInterval()) > 0 ? settings.checkInterval() : until;
  }

  /**
   * One pass; returns when something is next due, empty when nothing was done (not leading, or a
   * write lost a race).
   */
  public Optional<Instant> reconcile() {
    if (!leadership.leading()) {
      current.clear();
      return Optional.empty();
    }
    Instant now = clock.instant();
    Optional<CertificateAuthority> ca = applyCa(now);
    if (ca.isEmpty()) {
      return Optional.empty();
    }
    current.set(ca.get());
    Instant due = ca.get().nextRotation();
    for (Instant renewal :
        List.of(
            applyWorkload(
                settings.gatewaySecret(), Identities.GATEWAY, Usage.CLIENT, ca.get(), now),
            applyWorkload(
                settings.operatorSecret(), Identities.OPERATOR, Usage.SERVER, ca.get(), now))) {
      due = renewal.isBefore(due) ? renewal : due;
    }
    return Optional.of(due);
  }

  /** Step 1: the CA, created or rotated; empty when another replica wrote it first. */
  Optional<CertificateAuthority> applyCa(Instant now) {
    Secret existing = secrets().withName(settings.caSecret()).get();
    if (existing == null) {
      CertificateAuthority created = CertificateAuthority.create(policy, now);
      if (!write(TlsSecrets.ca(namespace, settings.caSecret(), created), null)) {
        return Optional.empty();
      }
      LOG.infof(
          "created the internal CA in Secret %s/%s: %s",
          namespace, settings.caSecret(), describe(created.signingCertificate()));
      return Optional.of(created);
    }
    CertificateAuthority stored;
    try {
      stored = CertificateAuthority.fromSecretData(policy, TlsSecrets.pem(existing));
    } catch (GeneralSecurityException | RuntimeException e) {
      // Never replaced silently: every certificate in the cluster chains to it.
      LOG.errorf(
          "the CA Secret %s/%s cannot be read (%s): no certificate is issued or renewed until it"
              + " is repaired or deleted (deleting it creates a new CA, and every workload then"
              + " reloads new certificates)",
          namespace, settings.caSecret(), e.getMessage());
      return Optional.empty();
    }
    CertificateAuthority rotated = stored.rotate(now);
    if (rotated == stored) {
      return Optional.of(stored);
    }
    if (!write(
        TlsSecrets.ca(namespace, settings.caSecret(), rotated),
        existing.getMetadata().getResourceVersion())) {
      return Optional.empty();
    }
    LOG.infof(
        "rotated the internal CA: signing %s, next %s, %d retired still trusted",
        describe(rotated.signingCertificate()),
        rotated.nextCertificate().map(CaSecretReconciler::describe).orElse("none"),
        rotated.retiredCertificates().size());
    return Optional.of(rotated);
  }

  /** Step 2: one workload's TLS Secret; returns when it is next due for renewal. */
  Instant applyWorkload(
      String name, String identity, Usage usage, CertificateAuthority ca, Instant now) {
    Secret existing = secrets().withName(name).get();
    Map<String, String> pem = TlsSecrets.pem(existing);
    Optional<String> reason = ca.renewalReason(pem, identity, now);
    if (reason.isEmpty()) {
      return CertificateAuthority.renewAt(TlsSecrets.certificate(pem));
    }
    IssuedCertificate issued = ca.issue(identity, usage, now);
    Secret desired =
        TlsSecrets.workload(
            new ObjectMetaBuilder()
                .withNamespace(namespace)
                .withName(name)
                .withLabels(
                    TlsSecrets.controlPlaneLabels(
                        identity.substring(identity.lastIndexOf('/') + 1)))
                .build(),
            issued);
    if (write(desired, existing == null ? null : existing.getMetadata().getResourceVersion())) {
      LOG.infof(
          "issued %s in Secret %s/%s (%s)",
          describe(issued.certificate()), namespace, name, reason.get());
    }
    return CertificateAuthority.renewAt(issued.certificate());
  }

  /** Creates ({@code resourceVersion} null) or replaces a Secret; false when another won. */
  private boolean write(Secret secret, String resourceVersion) {
    try {
      if (resourceVersion == null) {
        secrets().resource(secret).create();
      } else {
        secrets()
            .resource(
                new SecretBuilder(secret)
                    .editMetadata()
                    .withResourceVersion(resourceVersion)
                    .endMetadata()
                    .build())
            .update();
      }
      return true;
    } catch (KubernetesClientException e) {
      if (e.getCode() == HttpURLConnection.HTTP_CONFLICT) {
        LOG.debugf(
            "Secret %s changed meanwhile; read again next pass", secret.getMetadata().getName());
        return false;
      }
      throw e;
    }
  }

  private NonNamespaceOperation<Secret, SecretList, Resource<Secret>> secrets() {
    return client.secrets().inNamespace(namespace);
  }

  static String describe(X509Certificate certificate) {
    return Identities.of(certificate).orElse(certificate.getSubjectX500Principal().getName())
        + " valid until "
        + certificate.getNotAfter().toInstant();
  }

  @Override
  public void close() {
    loop.shutdownNow();
  }
}
