// The store behind the OpenAI-compatible surface: users' own vector stores, uploads and responses,
// each reachable by its owner only, and vector store files known by their file id.
#include <gtest/gtest.h>

#include "brandcoach/store/store.hpp"
#include "support/temp_dir.hpp"

namespace brandcoach::store {
namespace {

class ApiTablesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = open_sqlite({(dir_ / "db.sqlite3").string(), 2, 5000});
    ASSERT_TRUE(opened) << opened.error().message;
    store_ = std::move(opened).value();
    ana_ = store_->ensure_user("ana")->id;
    ben_ = store_->ensure_user("ben")->id;
  }

  FileInput keyed(const std::string& file_id, const std::string& content,
                  const std::string& attributes = "{}") {
    FileInput input;
    input.filename = "notes.md";
    input.bytes = static_cast<int64_t>(content.size());
    input.sha256 = sha256_hex(content);
    input.external_id = file_id;
    input.attributes_json = attributes;
    input.keyed_by_external_id = true;
    return input;
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  int64_t ana_ = 0;
  int64_t ben_ = 0;
};

TEST_F(ApiTablesTest, UploadsBelongToTheirUserOnly) {
  Upload upload;
  upload.id = "file-abc";
  upload.user_id = ana_;
  upload.filename = "guide.md";
  upload.purpose = "assistants";
  upload.content = std::string("# Guide\n\0binary-safe", 21);
  auto created = store_->create_upload(upload);
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(created->bytes, 21);
  EXPECT_EQ(created->sha256, sha256_hex(upload.content));

  auto found = store_->find_upload(ana_, "file-abc", true);
  ASSERT_TRUE(found && *found);
  EXPECT_EQ((*found)->content, upload.content) << "content is kept byte for byte";
  auto without = store_->find_upload(ana_, "file-abc", false);
  ASSERT_TRUE(without && *without);
  EXPECT_TRUE((*without)->content.empty());
  EXPECT_FALSE(*store_->find_upload(ben_, "file-abc", true)) << "ben cannot read ana's file";
  EXPECT_TRUE(store_->list_uploads(ben_)->empty());
  EXPECT_EQ(store_->list_uploads(ana_)->size(), 1u);
  EXPECT_EQ(store_->delete_upload(ben_, "file-abc").error().kind, ErrorKind::not_found);
  EXPECT_TRUE(store_->delete_upload(ana_, "file-abc"));
  EXPECT_FALSE(*store_->find_upload(ana_, "file-abc", false));
  EXPECT_FALSE(store_->create_upload(Upload{"file-x", 424242, "a.md", "assistants", 0, "", 0, "x"}))
      << "an upload needs a user that exists";
}

TEST_F(ApiTablesTest, ResponsesBelongToTheirUserOnly) {
  ASSERT_TRUE(
      store_->put_response({"resp_1", ana_, "", R"({"input_items":[]})", R"({"id":"resp_1"})", "{}", 0}));
  ASSERT_TRUE(store_->put_response({"resp_2", ana_, "resp_1", "{}", R"({"id":"resp_2"})", "{}", 0}));
  auto second = store_->find_response(ana_, "resp_2");
  ASSERT_TRUE(second && *second);
  EXPECT_EQ((*second)->previous_id, "resp_1");
  EXPECT_GT((*second)->created_at, 0);
  EXPECT_FALSE(*store_->find_response(ben_, "resp_1"));
  EXPECT_EQ(store_->delete_response(ben_, "resp_1").error().kind, ErrorKind::not_found);
  EXPECT_TRUE(store_->delete_response(ana_, "resp_1"));
  EXPECT_FALSE(*store_->find_response(ana_, "resp_1"));
  EXPECT_FALSE(store_->put_response({"resp_2", ana_, "", "{}", "{}", "{}", 0})) << "ids are unique";
}

TEST_F(ApiTablesTest, UserStoresAreListedForTheirOwnerAndShareNamesWithNoKnowledgeStore) {
  auto store = store_->create_user_store(ana_, "vs_one", R"({"name":"One"})", "hash-256", "{}");
  ASSERT_TRUE(store) << store.error().message;
  EXPECT_EQ(store->kind, "user");
  EXPECT_EQ(store->owner_user_id, ana_);
  EXPECT_EQ(store->metadata_json, R"({"name":"One"})");
  EXPECT_EQ(store_->list_user_stores(ana_)->size(), 1u);
  EXPECT_TRUE(store_->list_user_stores(ben_)->empty());
  const auto knowledge = store_->list_knowledge_stores();
  ASSERT_TRUE(knowledge);
  for (const auto& listed : *knowledge) EXPECT_NE(listed.name, "vs_one");
  EXPECT_EQ(store_->create_user_store(ben_, "vs_one", "{}", "", "{}").error().kind, ErrorKind::conflict);
  EXPECT_EQ(store_->ensure_knowledge_store("vs_one").error().kind, ErrorKind::conflict)
      << "a knowledge store cannot take a user store's name";
  auto found = store_->find_knowledge_store("vs_one");
  ASSERT_TRUE(found && *found) << "retrieval finds user stores by name";
  EXPECT_EQ((*found)->kind, "user");
  ASSERT_TRUE(store_->set_store_metadata(store->id, R"({"name":"Renamed"})"));
  EXPECT_EQ(store_->list_user_stores(ana_)->front().metadata_json, R"({"name":"Renamed"})");

  // Erasing the owner erases their stores, uploads and responses with them.
  ASSERT_TRUE(store_->create_upload(Upload{"file-1", ana_, "a.md", "assistants", 0, "", 0, "x"}));
  ASSERT_TRUE(store_->put_response({"resp_9", ana_, "", "{}", "{}", "{}", 0}));
  ASSERT_TRUE(store_->erase_user(ana_, "user"));
  EXPECT_FALSE(*store_->find_knowledge_store("vs_one"));
  const auto ana_again = store_->ensure_user("ana")->id;
  EXPECT_TRUE(store_->list_uploads(ana_again)->empty());
  EXPECT_FALSE(*store_->find_response(ana_again, "resp_9"));
}

TEST_F(ApiTablesTest, VectorStoreFilesAreKnownByTheirFileId) {
  auto store = store_->create_user_store(ana_, "vs_files", "{}", "", "{}");
  ASSERT_TRUE(store);
  const std::vector<NewChunk> chunks = {{0, "", "same words", 2, 0, {}}};
  auto first = store_->put_file(store->id, keyed("file-a", "same"), chunks);
  ASSERT_TRUE(first);
  auto second = store_->put_file(store->id, keyed("file-b", "same"), chunks);
  ASSERT_TRUE(second);
  EXPECT_FALSE(second->duplicate) << "equal content under another file id is another file";
  EXPECT_NE(second->file.id, first->file.id);
  const auto both = store_->list_files(store->id);
  ASSERT_TRUE(both);
  ASSERT_EQ(both->size(), 2u) << "equal names do not replace either";
  EXPECT_EQ(both->front().filename, "notes.md") << "the name is shown without the file id";
  const auto hits = store_->search_chunks({"vs_files"}, "same words", 5);
  ASSERT_TRUE(hits);
  ASSERT_EQ(hits->size(), 2u);
  EXPECT_EQ(hits->front().filename, "notes.md");

  auto unchanged = store_->put_file(store->id, keyed("file-a", "same"), chunks);
  ASSERT_TRUE(unchanged);
  EXPECT_TRUE(unchanged->duplicate);
  auto retagged = store_->put_file(store->id, keyed("file-a", "same", R"({"year":2025})"), chunks);
  ASSERT_TRUE(retagged);
  EXPECT_FALSE(retagged->duplicate) << "new attributes are a new version";
  EXPECT_EQ(retagged->replaced_chunk_ids, first->chunk_ids);
  EXPECT_EQ(store_->list_files(store->id)->size(), 2u);

  FileInput failed = keyed("file-c", "garbage");
  failed.status = "failed";
  failed.last_error = "not a PDF";
  auto bad = store_->put_file(store->id, failed, {});
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->file.status, "failed");
  const auto files = store_->list_files(store->id);
  ASSERT_TRUE(files);
  for (const auto& f : *files) {
    if (f.external_id == "file-c") {
      EXPECT_EQ(f.last_error, "not a PDF");
    }
  }
}

}  // namespace
}  // namespace brandcoach::store
