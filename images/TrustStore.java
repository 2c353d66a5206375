import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Writes the JVM's trust store (a JKS file of trusted certificates, what Debian's
 * ca-certificates-java makes at install time) from PEM files, byte for byte the same on every run.
 *
 * <p>keytool cannot do this: it stamps each entry with the current time, and its PKCS12 stores
 * carry a random salt. JKS is simple enough to write directly (the format is that of {@code
 * sun.security.provider.JavaKeyStore}): a header, one record per certificate with a fixed date, and
 * a SHA-1 over the password, a fixed phrase and the content. Entries are sorted by alias.
 *
 * <p>Usage: {@code java TrustStore.java OUT.jks EPOCH_SECONDS CERT.crt...}; the alias of a
 * certificate is {@code debian:<file name>}, as Debian names them. The password is Debian's, {@code
 * changeit}.
 */
public final class TrustStore {
  private static final int MAGIC = 0xfeedfeed;
  private static final int VERSION = 2;
  private static final int TRUSTED_CERT = 2;
  private static final char[] PASSWORD = "changeit".toCharArray();

  private record Entry(String alias, Certificate certificate) {}

  public static void main(String[] args) throws Exception {
    if (args.length < 3) {
      System.err.println("usage: java TrustStore.java OUT.jks EPOCH_SECONDS CERT.crt...");
      System.exit(2);
    }
    Path out = Path.of(args[0]);
    long dateMillis = Long.parseLong(args[1]) * 1000;
    CertificateFactory x509 = CertificateFactory.getInstance("X.509");
    List<Entry> entries = new ArrayList<>();
    for (int i = 2; i < args.length; i++) {
      Path file = Path.of(args[i]);
      String name = file.getFileName().toString().replaceFirst("\\.crt$", ".pem");
      try (InputStream in = Files.newInputStream(file)) {
        // One certificate per file, as in /usr/share/ca-certificates.
        entries.add(
            new Entry("debian:" + name.toLowerCase(Locale.ROOT), x509.generateCertificate(in)));
      }
    }
    entries.sort((a, b) -> a.alias().compareTo(b.alias()));
    Files.write(out, jks(entries, dateMillis));
  }

  private static byte[] jks(List<Entry> entries, long dateMillis) throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    DataOutputStream data = new DataOutputStream(bytes);
    data.writeInt(MAGIC);
    data.writeInt(VERSION);
    data.writeInt(entries.size());
    for (Entry entry : entries) {
      byte[] encoded = entry.certificate().getEncoded();
      data.writeInt(TRUSTED_CERT);
      data.writeUTF(entry.alias());
      data.writeLong(dateMillis);
      data.writeUTF(entry.certificate().getType());
      data.writeInt(encoded.length);
      data.write(encoded);
    }
    data.flush();
    byte[] content = bytes.toByteArray();
    data.write(integrityDigest(content));
    data.flush();
    return bytes.toByteArray();
  }

  /** SHA-1 over the password (UTF-16BE), the phrase JavaKeyStore uses, and the content. */
  private static byte[] integrityDigest(byte[] content) throws Exception {
    MessageDigest sha1 = MessageDigest.getInstance("SHA-1");
    for (char c : PASSWORD) {
      sha1.update((byte) (c >> 8));
      sha1.update((byte) c);
    }
    sha1.update("Mighty Aphrodite".getBytes(StandardCharsets.UTF_8));
    sha1.update(content);
    return sha1.digest();
  }

  private TrustStore() {}
}
