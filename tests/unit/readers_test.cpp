// Format readers and file walking. Every input is generated here: PDFs by a small writer with a real
// xref table, DOCX files by libzip, so the tests need no fixtures and show exactly what is read.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <zip.h>

#include "brandcoach/ingest/ingest.hpp"
#include "support/documents.hpp"
#include "support/temp_dir.hpp"

namespace brandcoach::ingest {
namespace {

using brandcoach::testing::TempDir;
using text::Block;

void write_file(const std::filesystem::path& path, std::string_view bytes) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::vector<std::string> texts(const Document& doc) {
  std::vector<std::string> out;
  for (const auto& block : doc.blocks) out.push_back(block.text);
  return out;
}

std::string error_of(const Result<Document>& result) {
  return result ? std::string("<no error>") : result.error().message;
}

// ---------------------------------------------------------------------------------------------
// Generators

using testing::make_pdf;
using testing::make_zip;

const char* kContentTypes =
    R"(<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">)"
    R"(<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.)"
    R"(wordprocessingml.document.main+xml"/></Types>)";

std::string document_xml(const std::string& body, const std::string& prolog = "") {
  return R"(<?xml version="1.0" encoding="UTF-8" standalone="yes"?>)" + prolog +
         R"(<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>)" +
         body + "<w:sectPr/></w:body></w:document>";
}

std::string paragraph(const std::string& text, const std::string& style = "") {
  std::string properties = style.empty() ? "" : R"(<w:pPr><w:pStyle w:val=")" + style + R"("/></w:pPr>)";
  return "<w:p>" + properties + "<w:r><w:t>" + text + "</w:t></w:r></w:p>";
}

std::string table_row(const std::vector<std::string>& cells) {
  std::string row = "<w:tr>";
  for (const auto& cell : cells) row += "<w:tc>" + paragraph(cell) + "</w:tc>";
  return row + "</w:tr>";
}

std::string make_docx(const std::string& document, const std::string& core = "") {
  std::vector<std::pair<std::string, std::string>> entries = {{"[Content_Types].xml", kContentTypes},
                                                              {"word/document.xml", document}};
  if (!core.empty()) entries.emplace_back("docProps/core.xml", core);
  return make_zip(entries);
}

// ---------------------------------------------------------------------------------------------
// Markdown and text

TEST(MarkdownReader, FrontMatterValuesBecomeTypedAttributes) {
  auto doc = read_markdown(
      "---\nbrand: \"Acme, Inc.\"\nyear: 2024\nscore: 4.5\npublic: true\ndraft: false\ntone: friendly\n"
      "version: 1.2.3\nquote: 'it''s'\n---\n# Voice Guide\n\nWe write plainly.\n",
      {});
  ASSERT_TRUE(doc) << doc.error().message;
  EXPECT_EQ(doc->attributes["brand"], "Acme, Inc.");
  EXPECT_TRUE(doc->attributes["year"].is_number_integer());
  EXPECT_EQ(doc->attributes["year"], 2024);
  EXPECT_TRUE(doc->attributes["score"].is_number_float());
  EXPECT_DOUBLE_EQ(doc->attributes["score"].get<double>(), 4.5);
  EXPECT_EQ(doc->attributes["public"], true);
  EXPECT_EQ(doc->attributes["draft"], false);
  EXPECT_EQ(doc->attributes["tone"], "friendly");
  EXPECT_EQ(doc->attributes["version"], "1.2.3");
  EXPECT_EQ(doc->attributes["quote"], "it's");
  EXPECT_EQ(doc->title, "Voice Guide");
  ASSERT_EQ(doc->blocks.size(), 2u);
  EXPECT_EQ(doc->blocks[0].kind, Block::Kind::heading);
  EXPECT_EQ(doc->blocks[0].level, 1);
  EXPECT_EQ(doc->blocks[1].text, "We write plainly.");
}

TEST(MarkdownReader, WithoutFrontMatterTheWholeFileIsBody) {
  auto doc = read_markdown("Intro line.\n\n## Section\n\nBody --- text.\n", {});
  ASSERT_TRUE(doc) << doc.error().message;
  EXPECT_TRUE(doc->attributes.empty());
  EXPECT_EQ(texts(*doc), (std::vector<std::string>{"Intro line.", "Section", "Body --- text."}));
  EXPECT_EQ(doc->title, "Section");
}

TEST(MarkdownReader, MalformedFrontMatterIsAnError) {
  EXPECT_NE(error_of(read_markdown("---\ntitle: x\nno closing line\n", {})).find("front matter"),
            std::string::npos);
  EXPECT_NE(error_of(read_markdown("---\njust words\n---\nbody\n", {})).find("line 2"), std::string::npos);
  EXPECT_NE(error_of(read_markdown("---\na: 1\na: 2\n---\nbody\n", {})).find("duplicate key"),
            std::string::npos);
  EXPECT_NE(error_of(read_markdown("---\nnested:\n  child: 1\n---\nbody\n", {})).find("line 3"),
            std::string::npos);
}

TEST(MarkdownReader, InvalidUtf8AndNulBytesAreRejected) {
  EXPECT_EQ(error_of(read_markdown("# Caf\xE9\n", {})), "not valid UTF-8 text");
  EXPECT_NE(error_of(read_markdown(std::string("abc\0def", 7), {})).find("NUL"), std::string::npos);
  EXPECT_NE(error_of(read_text(std::string("abc\0def", 7), {})).find("NUL"), std::string::npos);
}

TEST(MarkdownReader, FrontMatterOnlyIsAnEmptyDocument) {
  EXPECT_EQ(error_of(read_markdown("---\na: 1\n---\n\n  \n", {})), "empty document");
}

TEST(TextReader, ParagraphsSplitAtBlankLines) {
  auto doc = read_text(
      "\xEF\xBB\xBF"
      "First line\r\nsame paragraph\r\n\r\n  \nSecond one.\n",
      {});
  ASSERT_TRUE(doc) << doc.error().message;
  EXPECT_EQ(texts(*doc), (std::vector<std::string>{"First line\nsame paragraph", "Second one."}));
  EXPECT_EQ(doc->blocks[0].kind, Block::Kind::paragraph);
  EXPECT_TRUE(doc->title.empty());
}

TEST(TextReader, WhitespaceOnlyIsAnEmptyDocument) {
  EXPECT_EQ(error_of(read_text(" \n\n\t\n", {})), "empty document");
}

TEST(TextReader, TextOverMaxTextBytesNamesTheLimit) {
  Limits limits;
  limits.max_text_bytes = 10;
  EXPECT_NE(error_of(read_text("this is more than ten bytes", limits)).find("max_text_bytes"),
            std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// HTML

TEST(HtmlReader, DropsPageFurnitureAndKeepsHeadingsParagraphsAndRows) {
  auto doc = read_html(
      "<!DOCTYPE html><html><head><title>  Brand   Book </title><style>p{color:red}</style>"
      "<script>var hidden = 1;</script></head><body>"
      "<nav><a href='/'>Home</a> <a href='/x'>Menu</a></nav><header>Site banner</header>"
      "<h1>Our <em>Voice</em></h1><p>We are   warm\n and  direct.</p>"
      "<ul><li>Be brief</li><li>Be kind</li></ul>"
      "<table><tr><th>Do</th><th>Don't</th></tr><tr><td>Say <b>you</b></td><td>Say user</td></tr></table>"
      "<script>alert('x')</script><noscript>Enable JS</noscript><form><p>Subscribe</p></form>"
      "<h2>Tone</h2><div>Plain words.<br>Short lines.</div><footer>Copyright</footer></body></html>",
      {});
  ASSERT_TRUE(doc) << doc.error().message;
  EXPECT_EQ(doc->title, "Brand Book");
  EXPECT_EQ(texts(*doc), (std::vector<std::string>{"Our Voice", "We are warm and direct.", "Be brief",
                                                   "Be kind", "Do | Don't", "Say you | Say user", "Tone",
                                                   "Plain words.\nShort lines."}));
  EXPECT_EQ(doc->blocks[0].kind, Block::Kind::heading);
  EXPECT_EQ(doc->blocks[0].level, 1);
  EXPECT_EQ(doc->blocks[6].level, 2);
  EXPECT_EQ(doc->blocks[1].kind, Block::Kind::paragraph);
}

TEST(HtmlReader, MalformedMarkupIsRecovered) {
  auto doc = read_html("<h2>Unclosed heading<p>First <b>bold <i>para<p>Second para</div></span>", {});
  ASSERT_TRUE(doc) << doc.error().message;
  EXPECT_EQ(texts(*doc), (std::vector<std::string>{"Unclosed heading", "First bold para", "Second para"}));
  EXPECT_EQ(doc->blocks[0].kind, Block::Kind::heading);
  EXPECT_EQ(doc->title, "Unclosed heading");  // no <title>, no <h1>: the first heading
}

TEST(HtmlReader, TitleFallsBackToFirstH1) {
  auto doc = read_html("<body><h2>Sub</h2><h1>Main</h1><p>x</p></body>", {});
  ASSERT_TRUE(doc) << doc.error().message;
  EXPECT_EQ(doc->title, "Main");
}

TEST(HtmlReader, DeclaredLatin1CharsetIsConvertedToUtf8) {
  auto doc = read_html(
      "<html><head><meta charset=\"iso-8859-1\"><title>Caf\xE9</title></head>"
      "<body><p>Caf\xE9 cr\xE8me</p></body></html>",
      {});
  ASSERT_TRUE(doc) << doc.error().message;
  EXPECT_EQ(doc->title, "Caf\xC3\xA9");
  ASSERT_EQ(doc->blocks.size(), 1u);
  EXPECT_EQ(doc->blocks[0].text, "Caf\xC3\xA9 cr\xC3\xA8me");
}

TEST(HtmlReader, PageWithOnlyScriptsIsEmpty) {
  EXPECT_EQ(error_of(read_html("<html><body><script>x()</script><nav>Menu</nav></body></html>", {})),
            "empty document");
  EXPECT_EQ(error_of(read_html("", {})), "empty document");
}

TEST(HtmlReader, SpacesBetweenInlineElementsAreKept) {
  auto doc = read_html("<p><b>Say</b> <i>you</i>,&nbsp;not <a href='#'>user</a>.</p>", {});
  ASSERT_TRUE(doc) << doc.error().message;
  EXPECT_EQ(texts(*doc), (std::vector<std::string>{"Say you, not user."}));
}

TEST(HtmlReader, DeepNestingDoesNotOverflowTheStack) {
  std::string html = "<p>shallow</p>";
  for (int i = 0; i < 20000; ++i) html += "<div><span>";
  html += "deep";
  auto doc = read_html(html, {});
  // libxml2 may stop nesting at its depth limit; the reader must still return what it got.
  ASSERT_TRUE(doc) << doc.error().message;
  EXPECT_EQ(doc->blocks.front().text, "shallow");
}

// ---------------------------------------------------------------------------------------------
// PDF

TEST(PdfReader, TwoPagesKeepTheirPageNumbersAndTheInfoTitle) {
  auto doc = read_pdf(make_pdf({{"Hello from page one"}, {"Second page text"}}, "Style Guide"), {});
  ASSERT_TRUE(doc) << doc.error().message;
  EXPECT_EQ(doc->title, "Style Guide");
  ASSERT_EQ(doc->blocks.size(), 2u);
  EXPECT_EQ(doc->blocks[0].text, "Hello from page one");
  EXPECT_EQ(doc->blocks[0].page, 1);
  EXPECT_EQ(doc->blocks[1].text, "Second page text");
  EXPECT_EQ(doc->blocks[1].page, 2);
}

TEST(PdfReader, TruncatedAndEmptyFilesAreErrors) {
  const std::string pdf = make_pdf({{"Some text"}});
  EXPECT_NE(error_of(read_pdf(pdf.substr(0, 40), {})).find("not readable as PDF"), std::string::npos);
  EXPECT_EQ(error_of(read_pdf("", {})), "empty document");
  EXPECT_EQ(error_of(read_pdf("GIF89a not a pdf", {})), "not a PDF file");
}

TEST(PdfReader, PdfWithoutTextIsReportedAsScanned) {
  EXPECT_EQ(error_of(read_pdf(make_pdf({{}}), {})), "no extractable text (scanned PDF?)");
}

TEST(PdfReader, PageAndPageTextLimitsAreEnforced) {
  Limits limits;
  limits.max_pages = 1;
  EXPECT_NE(error_of(read_pdf(make_pdf({{"a"}, {"b"}}), limits)).find("max_pages"), std::string::npos);
  limits = {};
  limits.max_page_bytes = 5;
  EXPECT_NE(error_of(read_pdf(make_pdf({{"longer than five"}}), limits)).find("max_page_bytes"),
            std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// DOCX

TEST(DocxReader, HeadingsParagraphsAndTableRows) {
  const std::string body =
      paragraph("Brand Voice", "Heading1") +
      R"(<w:p><w:r><w:t xml:space="preserve">We speak </w:t></w:r><w:r><w:rPr><w:b/></w:rPr><w:t>plainly</w:t>)"
      R"(</w:r><w:r><w:tab/><w:t>always.</w:t></w:r></w:p>)" +
      "<w:tbl><w:tblPr/>" + table_row({"a", "b"}) + table_row({"c", "d"}) + "</w:tbl>" +
      paragraph("Tone", "Heading2") + paragraph("Cover", "Title") +
      "<w:p><w:r><w:t>Line one</w:t><w:br/><w:t>line two</w:t></w:r></w:p>";
  auto doc = read_docx(make_docx(document_xml(body)), {});
  ASSERT_TRUE(doc) << doc.error().message;
  EXPECT_EQ(texts(*doc), (std::vector<std::string>{"Brand Voice", "We speak plainly always.", "a | b",
                                                   "c | d", "Tone", "Cover", "Line one\nline two"}));
  EXPECT_EQ(doc->blocks[0].kind, Block::Kind::heading);
  EXPECT_EQ(doc->blocks[0].level, 1);
  EXPECT_EQ(doc->blocks[2].kind, Block::Kind::paragraph);
  EXPECT_EQ(doc->blocks[4].level, 2);
  EXPECT_EQ(doc->blocks[5].level, 1);
  EXPECT_EQ(doc->title, "Brand Voice");
}

TEST(DocxReader, TitleComesFromCoreProperties) {
  const std::string core =
      R"(<?xml version="1.0"?><cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/)"
      R"(metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Acme Voice</dc:title>)"
      "</cp:coreProperties>";
  auto doc = read_docx(make_docx(document_xml(paragraph("H", "Heading1") + paragraph("x")), core), {});
  ASSERT_TRUE(doc) << doc.error().message;
  EXPECT_EQ(doc->title, "Acme Voice");
}

TEST(DocxReader, ZipBombIsRefusedByRatioWithoutInflating) {
  const std::string zeros(50u << 20, '\0');
  const std::string bomb = make_zip({{"[Content_Types].xml", kContentTypes}, {"word/document.xml", zeros}});
  ASSERT_LT(bomb.size(), 1u << 20);  // deflate really did compress it ~1000:1
  const auto start = std::chrono::steady_clock::now();
  auto doc = read_docx(bomb, {});
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_NE(error_of(doc).find("max_compression_ratio"), std::string::npos) << error_of(doc);
  EXPECT_LT(elapsed, std::chrono::milliseconds(500));
}

// Rewrites the uncompressed size that the local and central headers record for `name`.
void patch_uncompressed_size(std::string& zip, const std::string& name, uint32_t size) {
  const auto u16 = [&](size_t at) {
    return static_cast<size_t>(static_cast<uint8_t>(zip[at]) | static_cast<uint8_t>(zip[at + 1]) << 8);
  };
  const auto put32 = [&](size_t at) {
    for (int i = 0; i < 4; ++i) zip[at + i] = static_cast<char>((size >> (8 * i)) & 0xFF);
  };
  int patched = 0;
  for (size_t at = 0; (at = zip.find("PK", at)) != std::string::npos && at + 46 + name.size() <= zip.size();
       ++at) {
    if (zip.compare(at, 4, "PK\x03\x04") == 0 && zip.compare(at + 30, name.size(), name) == 0 &&
        u16(at + 26) == name.size()) {
      put32(at + 22);
      ++patched;
    } else if (zip.compare(at, 4, "PK\x01\x02") == 0 && zip.compare(at + 46, name.size(), name) == 0 &&
               u16(at + 28) == name.size()) {
      put32(at + 24);
      ++patched;
    }
  }
  ASSERT_EQ(patched, 2);
}

TEST(DocxReader, LyingSizeHeaderStillStopsAtTheLimits) {
  std::string bomb =
      make_zip({{"[Content_Types].xml", kContentTypes}, {"word/document.xml", std::string(50u << 20, 'a')}});
  patch_uncompressed_size(bomb, "word/document.xml", 4096);  // claims a harmless 4 KiB

  auto start = std::chrono::steady_clock::now();
  auto doc = read_docx(bomb, {});
  EXPECT_NE(error_of(doc).find("max_compression_ratio"), std::string::npos) << error_of(doc);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(500));

  Limits limits;
  limits.max_compression_ratio = 1u << 30;  // only the byte budget stands in the way now
  limits.max_uncompressed_bytes = 1u << 20;
  doc = read_docx(bomb, limits);
  EXPECT_NE(error_of(doc).find("max_uncompressed_bytes"), std::string::npos) << error_of(doc);
}

TEST(DocxReader, UncompressedSizeLimitIsEnforced) {
  Limits limits;
  limits.max_uncompressed_bytes = 100;
  const std::string docx = make_docx(document_xml(paragraph("Some text that makes the part over 100 bytes")));
  EXPECT_NE(error_of(read_docx(docx, limits)).find("max_uncompressed_bytes"), std::string::npos);
}

TEST(DocxReader, DoctypeWithEntitiesIsRejected) {
  const std::string document =
      document_xml(paragraph("&lol;&lol;"), R"(<!DOCTYPE w:document [<!ENTITY lol "lol">]>)");
  EXPECT_NE(error_of(read_docx(make_docx(document), {})).find("DOCTYPE"), std::string::npos);
}

TEST(DocxReader, NonZipAndZipWithoutDocumentAreErrors) {
  EXPECT_NE(error_of(read_docx("plain text, not a zip", {})).find("not a DOCX"), std::string::npos);
  EXPECT_NE(error_of(read_docx(make_zip({{"other.xml", "<a/>"}}), {})).find("word/document.xml"),
            std::string::npos);
  EXPECT_NE(error_of(read_docx(make_zip({{"word/document.xml", "<w:document"}}), {})).find("well-formed"),
            std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// JSON and JSONL

TEST(JsonReader, ObjectIsOneDocumentWithAttributes) {
  auto docs = read_json(
      R"({"text": "# Refunds\n\nWe refund within 30 days.", "attributes": {"team": "support", "tier": 2, "public": true}})",
      {});
  ASSERT_TRUE(docs) << docs.error().message;
  ASSERT_EQ(docs->size(), 1u);
  const Document& doc = docs->front();
  EXPECT_TRUE(doc.external_id.empty());
  EXPECT_EQ(doc.title, "Refunds");
  EXPECT_EQ(texts(doc), (std::vector<std::string>{"Refunds", "We refund within 30 days."}));
  EXPECT_EQ(doc.attributes["tier"], 2);
  EXPECT_EQ(doc.attributes["public"], true);
}

TEST(JsonReader, ArrayIdsDefaultToTheIndex) {
  auto docs = read_json(
      R"([{"text": "first"}, {"id": "faq-7", "title": "FAQ", "text": "second"}, {"text": "third"}])", {});
  ASSERT_TRUE(docs) << docs.error().message;
  ASSERT_EQ(docs->size(), 3u);
  EXPECT_EQ((*docs)[0].external_id, "0");
  EXPECT_EQ((*docs)[1].external_id, "faq-7");
  EXPECT_EQ((*docs)[1].title, "FAQ");
  EXPECT_EQ((*docs)[2].external_id, "2");
  EXPECT_NE((*docs)[0].sha256, (*docs)[2].sha256);
}

TEST(JsonReader, BadInputsAreErrors) {
  const auto message = [](std::string_view json) {
    auto docs = read_json(json, {});
    return docs ? std::string("<no error>") : docs.error().message;
  };
  EXPECT_NE(message(R"({"text": "x")").find("not valid JSON"), std::string::npos);
  EXPECT_EQ(message(R"({"title": "no text"})"), "missing \"text\"");
  EXPECT_EQ(message(R"({"text": 5})"), "\"text\" must be a string");
  EXPECT_EQ(message(R"([{"text": "ok"}, {"id": "x"}])"), "record 1: missing \"text\"");
  EXPECT_EQ(message(R"([{"id": "a", "text": "1"}, {"id": "a", "text": "2"}])"), "record 1: duplicate id 'a'");
  EXPECT_NE(message(R"({"text": "x", "attributes": {"tags": ["a"]}})").find("attribute 'tags'"),
            std::string::npos);
  EXPECT_EQ(message(R"("just a string")"), "expected a JSON object or an array of objects");
  EXPECT_EQ(message(R"({"text": "  "})"), "empty document");
  // Found by fuzzing (fuzz/regressions/json_records): a number beyond a double escaped as an exception.
  EXPECT_NE(message(R"({"text": "x", "attributes": {"big": 1e400}})").find("not valid JSON"),
            std::string::npos);
  Limits limits;
  limits.max_records = 1;
  auto docs = read_json(R"([{"text": "a"}, {"text": "b"}])", limits);
  ASSERT_FALSE(docs);
  EXPECT_NE(docs.error().message.find("max_records"), std::string::npos);
}

TEST(JsonlReader, BadLineIsReportedByNumberAndOtherLinesAreRead) {
  TempDir dir;
  const std::string first = R"({"id": "a", "text": "Alpha text", "attributes": {"lang": "en"}})";
  write_file(dir / "records.jsonl", first + "\n\n{\"id\": \"b\"}\n{not json}\n" +
                                        R"({"id": "c", "title": "Gamma", "text": "Gamma text"})" + "\r\n");
  const Batch batch = read_jsonl_records(dir / "records.jsonl");
  ASSERT_EQ(batch.documents.size(), 2u);
  EXPECT_EQ(batch.documents[0].filename, "records.jsonl#a");
  EXPECT_EQ(batch.documents[0].external_id, "a");
  EXPECT_EQ(batch.documents[0].format, "jsonl");
  EXPECT_EQ(batch.documents[0].sha256, sha256_hex(first));
  EXPECT_EQ(batch.documents[0].attributes["lang"], "en");
  EXPECT_EQ(batch.documents[1].filename, "records.jsonl#c");
  EXPECT_EQ(batch.documents[1].title, "Gamma");
  ASSERT_EQ(batch.failures.size(), 2u);
  EXPECT_EQ(batch.failures[0].reason, "line 3: missing \"text\"");
  EXPECT_EQ(batch.failures[1].reason, "line 4: not valid JSON");
}

TEST(JsonlReader, IdIsRequired) {
  TempDir dir;
  write_file(dir / "r.jsonl", R"({"text": "no id"})");
  const Batch batch = read_jsonl_records(dir / "r.jsonl");
  EXPECT_TRUE(batch.documents.empty());
  ASSERT_EQ(batch.failures.size(), 1u);
  EXPECT_EQ(batch.failures[0].reason, "line 1: missing \"id\"");
}

// ---------------------------------------------------------------------------------------------
// Files, folders, globs, limits

TEST(ReadFile, SetsNameFormatSizeAndHash) {
  TempDir dir;
  const std::string bytes = "# Hello\n\nWorld\n";
  write_file(dir / "Guide.MD", bytes);
  auto docs = read_file(dir / "Guide.MD", "docs/Guide.MD");
  ASSERT_TRUE(docs) << docs.error().message;
  ASSERT_EQ(docs->size(), 1u);
  EXPECT_EQ(docs->front().filename, "docs/Guide.MD");
  EXPECT_EQ(docs->front().format, "md");
  EXPECT_EQ(docs->front().bytes, bytes.size());
  EXPECT_EQ(docs->front().sha256, sha256_hex(bytes));
}

TEST(ReadFile, JsonRecordsAreNamedByTheirIds) {
  TempDir dir;
  write_file(dir / "faq.json", R"([{"id": "q1", "text": "one"}, {"text": "two"}])");
  write_file(dir / "single.json", R"({"text": "alone"})");
  auto docs = read_file(dir / "faq.json", "faq.json");
  ASSERT_TRUE(docs) << docs.error().message;
  ASSERT_EQ(docs->size(), 2u);
  EXPECT_EQ((*docs)[0].filename, "faq.json#q1");
  EXPECT_EQ((*docs)[1].filename, "faq.json#1");
  EXPECT_EQ((*docs)[1].format, "json");
  auto single = read_file(dir / "single.json", "single.json");
  ASSERT_TRUE(single) << single.error().message;
  EXPECT_EQ(single->front().filename, "single.json");
}

TEST(ReadFile, FileOverMaxFileBytesNamesTheLimit) {
  TempDir dir;
  write_file(dir / "big.txt", std::string(100, 'x'));
  Limits limits;
  limits.max_file_bytes = 10;
  auto docs = read_file(dir / "big.txt", "big.txt", limits);
  ASSERT_FALSE(docs);
  EXPECT_NE(docs.error().message.find("max_file_bytes"), std::string::npos);
  EXPECT_NE(docs.error().message.find("10 bytes"), std::string::npos);
}

TEST(ReadFile, UnsupportedExtensionIsAnError) {
  TempDir dir;
  write_file(dir / "logo.png", "\x89PNG");
  auto docs = read_file(dir / "logo.png", "logo.png");
  ASSERT_FALSE(docs);
  EXPECT_EQ(docs.error().message, "unsupported format '.png'");
  EXPECT_TRUE(is_supported("a.HTM"));
  EXPECT_TRUE(is_supported("a.jsonl"));
  EXPECT_FALSE(is_supported("a.doc"));
}

TEST(ReadPaths, FolderIsWalkedInNameOrderSkippingHiddenEntries) {
  TempDir dir;
  write_file(dir / "b.md", "# B\n\nbravo\n");
  write_file(dir / "a.txt", "alpha\n");
  write_file(dir / ".hidden.md", "secret\n");
  write_file(dir / ".git" / "notes.md", "secret\n");
  write_file(dir / "sub" / "c.html", "<p>charlie</p>");
  write_file(dir / "sub" / "logo.png", "\x89PNG");
  write_file(dir / "sub" / "empty.txt", "");
  const Batch batch = read_paths({dir.path().string()});
  std::vector<std::string> names;
  for (const auto& doc : batch.documents) names.push_back(doc.filename);
  EXPECT_EQ(names, (std::vector<std::string>{"a.txt", "b.md", "sub/c.html"}));
  ASSERT_EQ(batch.failures.size(), 2u);
  EXPECT_EQ(batch.failures[0].path, (dir / "sub" / "empty.txt").string());
  EXPECT_EQ(batch.failures[0].reason, "empty document");
  EXPECT_EQ(batch.failures[1].path, (dir / "sub" / "logo.png").string());
  EXPECT_EQ(batch.failures[1].reason, "unsupported format '.png'");
}

TEST(ReadPaths, GlobPatternsExpandToMatchingFiles) {
  TempDir dir;
  write_file(dir / "one.md", "one\n");
  write_file(dir / "two.md", "two\n");
  write_file(dir / ".three.md", "hidden\n");
  write_file(dir / "four.txt", "four\n");
  const Batch batch = read_paths({(dir / "*.md").string(), (dir / "nothing-*.pdf").string()});
  std::vector<std::string> names;
  for (const auto& doc : batch.documents) names.push_back(doc.filename);
  EXPECT_EQ(names, (std::vector<std::string>{"one.md", "two.md"}));
  ASSERT_EQ(batch.failures.size(), 1u);
  EXPECT_EQ(batch.failures[0].reason, "no files match");
}

TEST(ReadPaths, MissingPathIsAFailureAndJsonlKeepsGoodLines) {
  TempDir dir;
  write_file(dir / "r.jsonl", "{\"id\": \"x\", \"text\": \"ok\"}\n{\"id\": 1}\n");
  const Batch batch = read_paths({(dir / "absent").string(), (dir / "r.jsonl").string()});
  ASSERT_EQ(batch.documents.size(), 1u);
  EXPECT_EQ(batch.documents[0].filename, "r.jsonl#x");
  ASSERT_EQ(batch.failures.size(), 2u);
  EXPECT_EQ(batch.failures[0].reason, "no such file or folder");
  EXPECT_EQ(batch.failures[1].reason, "line 2: \"id\" must be a non-empty string");
}

}  // namespace
}  // namespace brandcoach::ingest
