package dev.flotilla.mtls;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.function.LongSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The TLS material in a {@link TlsFiles} directory, read again when it changes: the operator renews
 * certificates and rotates its CA long before they expire, the kubelet updates the mounted Secret,
 * and every handshake after the next look here uses the new files, with no restart.
 *
 * <p>A look reads the three small files at most once per {@code recheck} (on the handshake that
 * asks after it elapsed) and compares their bytes with the last ones read. Until the files are
 * there (the operator has not issued them yet: the Secret volume is optional) there are no
 * credentials, every handshake fails and every handshake looks again, so the first certificate is
 * used as soon as it lands. A set that does not parse, or whose key does not match its certificate
 * (a half-updated directory), is ignored until the next look, and the previous set stays in use.
 */
public final class ReloadingCredentials {
  private static final Logger LOG = Logger.getLogger(ReloadingCredentials.class.getName());

  private final TlsFiles files;
  private final long recheckNanos;
  private final LongSupplier nanoTime;
  private volatile Credentials current;
  private volatile long nextLookAt;
  private byte[][] lastRead;
  private long version;

  public ReloadingCredentials(TlsFiles files, Duration recheck) {
    this(files, recheck, System::nanoTime);
  }

  ReloadingCredentials(TlsFiles files, Duration recheck, LongSupplier nanoTime) {
    this.files = files;
    this.recheckNanos = recheck.toNanos();
    this.nanoTime = nanoTime;
    this.nextLookAt = nanoTime.getAsLong();
  }

  public TlsFiles files() {
    return files;
  }

  /** The newest good material, looking at the files first when {@code recheck} has elapsed. */
  public Optional<Credentials> current() {
    if (current == null || nanoTime.getAsLong() - nextLookAt >= 0) {
      look();
    }
    return Optional.ofNullable(current);
  }

  private synchronized void look() {
    long now = nanoTime.getAsLong();
    if (current != null && now - nextLookAt < 0) {
      return; // another thread just looked
    }
    nextLookAt = now + recheckNanos;
    byte[][] read;
    try {
      read =
          new byte[][] {
            Files.readAllBytes(files.certificate()),
            Files.readAllBytes(files.privateKey()),
            Files.readAllBytes(files.trustBundle())
          };
    } catch (NoSuchFileException e) {
      if (current == null) {
        LOG.log(Level.FINE, "no TLS material in {0} yet", files.dir());
      }
      return;
    } catch (IOException e) {
      LOG.log(Level.WARNING, "cannot read TLS material in " + files.dir() + ": " + e, e);
      return;
    }
    if (lastRead != null && Arrays.deepEquals(read, lastRead)) {
      return;
    }
    lastRead = read;
    try {
      List<X509Certificate> chain = Pem.certificates(text(read[0]));
      PrivateKey key = Pem.privateKey(text(read[1]));
      List<X509Certificate> anchors = Pem.certificates(text(read[2]));
      if (chain.isEmpty() || anchors.isEmpty()) {
        throw new GeneralSecurityException("a certificate file holds no certificate");
      }
      if (!Credentials.keyMatches(chain.get(0), key)) {
        throw new GeneralSecurityException("the private key does not match the certificate");
      }
      Credentials fresh = new Credentials(++version, chain, key, anchors);
      LOG.log(
          Level.INFO,
          "{0} TLS material from {1}: {2}",
          new Object[] {current == null ? "loaded" : "reloaded", files.dir(), fresh.describe()});
      current = fresh;
    } catch (GeneralSecurityException | RuntimeException e) {
      LOG.log(
          Level.WARNING,
          "ignoring the TLS material in {0} until it changes ({1}); {2}",
          new Object[] {
            files.dir(),
            e.getMessage(),
            current == null ? "no handshake can succeed" : "the previous material stays in use"
          });
    }
  }

  private static String text(byte[] bytes) {
    return new String(bytes, StandardCharsets.US_ASCII);
  }
}
