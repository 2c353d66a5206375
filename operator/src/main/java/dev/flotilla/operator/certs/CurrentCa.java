package dev.flotilla.operator.certs;

import dev.flotilla.mtls.ca.CertificateAuthority;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The CA as the leader last read or wrote it: {@link CaSecretReconciler} sets it, the worker
 * certificate step issues from it. Empty on a standby and until the leader's first look. Listeners
 * hear every change of the trust bundle or the signing CA, so that every model's certificate is
 * brought in line at once.
 */
public final class CurrentCa {
  private final AtomicReference<CertificateAuthority> current = new AtomicReference<>();
  private final List<Runnable> listeners = new CopyOnWriteArrayList<>();

  public Optional<CertificateAuthority> get() {
    return Optional.ofNullable(current.get());
  }

  public void set(CertificateAuthority ca) {
    CertificateAuthority before = current.getAndSet(ca);
    boolean changed =
        before == null
            || !before.signingCertificate().equals(ca.signingCertificate())
            || !before.trustBundle().equals(ca.trustBundle());
    if (changed) {
      listeners.forEach(Runnable::run);
    }
  }

  /** This replica no longer leads: what it knew may be stale by the time it leads again. */
  public void clear() {
    current.set(null);
  }

  public void onChange(Runnable listener) {
    listeners.add(listener);
  }
}
