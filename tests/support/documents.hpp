// Documents made in memory for tests: a minimal valid PDF and a deflated zip archive (DOCX).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <zip.h>

namespace brandcoach::testing {

// A minimal valid PDF: one Helvetica font, one content stream per page (one line of text per entry),
// an optional /Info /Title, and an xref table with the byte offset of every object.
inline std::string make_pdf(const std::vector<std::vector<std::string>>& pages,
                            const std::string& title = "") {
  std::vector<std::string> objects;
  std::string kids;
  for (size_t i = 0; i < pages.size(); ++i) kids += fmt::format("{} 0 R ", 4 + 2 * i);
  objects.push_back("<< /Type /Catalog /Pages 2 0 R >>");
  objects.push_back(fmt::format("<< /Type /Pages /Kids [{}] /Count {} >>", kids, pages.size()));
  objects.push_back("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>");
  for (size_t i = 0; i < pages.size(); ++i) {
    std::string content = "BT /F1 12 Tf 14 TL 72 720 Td\n";
    for (const auto& line : pages[i]) content += "(" + line + ") Tj T*\n";
    content += "ET";
    objects.push_back(fmt::format(
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
        "/Contents {} 0 R >>",
        5 + 2 * i));
    objects.push_back(fmt::format("<< /Length {} >>\nstream\n{}\nendstream", content.size(), content));
  }
  if (!title.empty()) objects.push_back("<< /Title (" + title + ") >>");

  std::string out = "%PDF-1.4\n";
  std::vector<size_t> offsets;
  for (size_t i = 0; i < objects.size(); ++i) {
    offsets.push_back(out.size());
    out += fmt::format("{} 0 obj\n{}\nendobj\n", i + 1, objects[i]);
  }
  const size_t xref = out.size();
  out += fmt::format("xref\n0 {}\n0000000000 65535 f \n", objects.size() + 1);
  for (size_t offset : offsets) out += fmt::format("{:010} 00000 n \n", offset);
  out += fmt::format("trailer\n<< /Size {} /Root 1 0 R", objects.size() + 1);
  if (!title.empty()) out += fmt::format(" /Info {} 0 R", objects.size());
  out += fmt::format(" >>\nstartxref\n{}\n%%EOF\n", xref);
  return out;
}

// A zip archive in memory, every entry deflated.
inline std::string make_zip(const std::vector<std::pair<std::string, std::string>>& entries) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* archive_source = zip_source_buffer_create(nullptr, 0, 0, &error);
  zip_t* archive = zip_open_from_source(archive_source, ZIP_TRUNCATE, &error);
  EXPECT_NE(archive, nullptr);
  zip_source_keep(archive_source);  // keep the written bytes after zip_close
  for (const auto& [name, data] : entries) {
    zip_source_t* source = zip_source_buffer(archive, data.data(), data.size(), 0);
    const zip_int64_t index = zip_file_add(archive, name.c_str(), source, ZIP_FL_OVERWRITE);
    EXPECT_GE(index, 0);
    zip_set_file_compression(archive, static_cast<zip_uint64_t>(index), ZIP_CM_DEFLATE, 9);
  }
  EXPECT_EQ(zip_close(archive), 0);
  std::string out;
  EXPECT_EQ(zip_source_open(archive_source), 0);
  char buffer[8192];
  zip_int64_t n = 0;
  while ((n = zip_source_read(archive_source, buffer, sizeof buffer)) > 0)
    out.append(buffer, static_cast<size_t>(n));
  zip_source_close(archive_source);
  zip_source_free(archive_source);
  zip_error_fini(&error);
  return out;
}

}  // namespace brandcoach::testing
