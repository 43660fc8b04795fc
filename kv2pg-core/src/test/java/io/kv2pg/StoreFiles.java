package io.kv2pg;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/** Every file of a folder with its size and SHA-256, to show that nothing in a store changed. */
public final class StoreFiles {
  private StoreFiles() {}

  /** Returns "size sha256" by relative path, for every regular file under {@code folder}. */
  public static Map<String, String> fingerprint(Path folder) throws IOException {
    Map<String, String> files = new TreeMap<>();
    List<Path> paths;
    try (Stream<Path> walk = Files.walk(folder)) {
      paths = walk.filter(Files::isRegularFile).toList();
    }
    for (Path file : paths) {
      files.put(folder.relativize(file).toString(), Files.size(file) + " " + sha256(file));
    }
    return files;
  }

  private static String sha256(Path file) throws IOException {
    try (InputStream in = Files.newInputStream(file)) {
      MessageDigest digest = MessageDigest.getInstance("SHA-256");
      byte[] buffer = new byte[1 << 16];
      for (int n; (n = in.read(buffer)) > 0; ) {
        digest.update(buffer, 0, n);
      }
      return HexFormat.of().formatHex(digest.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
