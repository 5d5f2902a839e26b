// Memory tiers: the rule extractor, fact versions with audit, recall, summaries, context budgets,
// export and erasure — with a real SQLite store.
#include <fstream>
#include <iterator>
#include <sstream>

#include <gtest/gtest.h>

#include "brandcoach/memory/memory.hpp"
#include "support/temp_dir.hpp"

namespace brandcoach::memory {
namespace {

using testing::TempDir;

std::optional<ExtractedFact> find(const std::vector<ExtractedFact>& facts, std::string_view key) {
  for (const auto& f : facts) {
    if (f.key == key) return f;
  }
  return std::nullopt;
}

std::vector<std::string> values(const std::vector<ExtractedFact>& facts, std::string_view key) {
  std::vector<std::string> out;
  for (const auto& f : facts) {
    if (f.key == key) out.push_back(f.value);
  }
  return out;
}

class Extractor : public ::testing::Test {
 protected:
  FactExtractor extractor;
};

TEST_F(Extractor, AnOptionTriedAndGivenUpIsRejected) {
  EXPECT_EQ(
      values(extractor.extract("We tried Tiki but sales were small; now we focus on Shopee."), "rejected"),
      std::vector<std::string>{"Tiki"});
  EXPECT_EQ(
      values(extractor.extract("We sell on Shopee. Lazada we tried before but it was a hassle."), "rejected"),
      std::vector<std::string>{"Lazada"});
  EXPECT_EQ(values(extractor.extract("Honestly Jumia didn't work out for us."), "rejected"),
            std::vector<std::string>{"Jumia"});
  EXPECT_EQ(values(extractor.extract("We gave up on Etsy last spring."), "rejected"),
            std::vector<std::string>{"Etsy"});
  // Tried and kept: nothing was turned down.
  EXPECT_TRUE(values(extractor.extract("I tried Canva and it was fine."), "rejected").empty());
}

TEST_F(Extractor, CountsKeepWhatTheyCount) {
  EXPECT_EQ(values(extractor.extract("We have 38 clients right now. I'd like to get to 60 by next year."),
                   "counts"),
            std::vector<std::string>{"38 (clients)"});
  EXPECT_EQ(values(extractor.extract("We're at 44 clients now btw."), "counts"),
            std::vector<std::string>{"44 (clients)"});
  EXPECT_EQ(values(extractor.extract("Post went well. Now 1,410 followers."), "counts"),
            std::vector<std::string>{"1,410 (followers)"});
  EXPECT_EQ(values(extractor.extract("Pupil numbers have risen to 27 after the recital."), "counts"),
            std::vector<std::string>{"27 (pupils)"});
  // People who work here are the team, a number wanted is a goal, someone else's count is theirs.
  EXPECT_TRUE(values(extractor.extract("We have 6 staff."), "counts").empty());
  EXPECT_TRUE(values(extractor.extract("We want 60 clients by next year."), "counts").empty());
  EXPECT_TRUE(values(extractor.extract("If we had 100 clients we'd hire."), "counts").empty());
}

TEST_F(Extractor, OptionsLookedAtAndPassedOnNamesWithAPlaceRenamesWithAColonAndGoalsToGetTo) {
  EXPECT_EQ(values(extractor.extract("I looked at Stromer but they're not our crowd."), "rejected"),
            std::vector<std::string>{"Stromer"});
  EXPECT_EQ(
      values(extractor.extract("Restaura MX in Roma Norte charges like MX$2,500 per chair."), "competitors"),
      std::vector<std::string>{"Restaura MX"});
  EXPECT_EQ(
      values(extractor.extract("We're renaming! New name: Nồi Nhà, it means the house pot."), "company"),
      std::vector<std::string>{"Nồi Nhà"});
  EXPECT_EQ(
      values(extractor.extract("I'd like to get to 60 by end of next year without burning out."), "goals"),
      std::vector<std::string>{"60 by end of next year"});
}

TEST_F(Extractor, PricesInMoreCurrenciesAndInWords) {
  EXPECT_EQ(values(extractor.extract("The 250g jar is now GH₵ 95."), "price"),
            std::vector<std::string>{"GH₵ 95 (250g jar)"});
  EXPECT_EQ(values(extractor.extract("We've had to put the 500g up to twenty-two dollars."), "price"),
            std::vector<std::string>{"twenty-two dollars (500g)"});
  // The second item of a list joined by "and", and one whose name holds a capital.
  EXPECT_EQ(values(extractor.extract("Prices are updated: 3kVA now $32,000 and 5kVA $51,000."), "price"),
            (std::vector<std::string>{"$32,000 (3kVA)", "$51,000 (5kVA)"}));
  const auto rides = values(
      extractor.extract("1-hour beginner ride 12.900 kr, 3-hour ride along the Rangá river 24.900 kr."),
      "price");
  ASSERT_EQ(rides.size(), 2u);
  EXPECT_NE(rides[1].find("24.900 kr"), std::string::npos);
  // A bare number in a list is no price of its own: "felt bags 18 500 ₸" is one amount.
  const auto bags = values(extractor.extract("Prices now: slippers 12 000 ₸, felt bags 18 500 ₸."), "price");
  EXPECT_EQ(bags, (std::vector<std::string>{"12 000 ₸ (slippers)", "18 500 ₸ (felt bags)"}));
}

TEST_F(Extractor, OtherBusinessesPricesAreNotTheUsers) {
  EXPECT_TRUE(
      values(extractor.extract("Big tour companies in Reykjavík bus people out and charge about 19.000 kr."),
             "price")
          .empty());
  EXPECT_EQ(values(extractor.extract("We sell it for GH₵ 85. There is a bigger brand in Accra, Shea Royale, "
                                     "selling something similar for GH₵ 140."),
                   "price"),
            std::vector<std::string>{"GH₵ 85"});
  // Customers counted in the plural are no other business: the count stays the user's.
  EXPECT_FALSE(extractor.statements("Restaurants now 11!", AnswerKind::count).empty());
}

TEST_F(Extractor, EveryPatternCompiles) {
  EXPECT_EQ(extractor.invalid_patterns(), std::vector<std::string>{});
}

TEST_F(Extractor, NamesWithLettersBeyondAsciiAreWhole) {
  const auto facts = extractor.extract(
      "I am Marta Wiśniewska, co-founder of Szprycha, a cargo-bike courier cooperative in Wrocław. My "
      "partner Paweł handles dispatch.");
  EXPECT_EQ(values(facts, "person:partner"), std::vector<std::string>{"Paweł"});
  EXPECT_EQ(values(facts, "location"), std::vector<std::string>{"Wrocław"});
  EXPECT_EQ(values(extractor.extract("Our roaster is Bảo now."), "person:roaster"),
            std::vector<std::string>{"Bảo"});
}

TEST_F(Extractor, AMonthIsNoPlace) {
  EXPECT_TRUE(values(extractor.extract("Realistically the deadline moved to December."), "location").empty());
  EXPECT_EQ(values(extractor.extract("We're getting a second truck in December, for Ballito."), "sites"),
            std::vector<std::string>{"Ballito (second truck)"});
}

TEST_F(Extractor, RefusedOptionsAreRejectedNotDecided) {
  const auto against =
      extractor.extract("We have decided against any presence on TikTok; it does not suit us.");
  EXPECT_EQ(values(against, "rejected"), std::vector<std::string>{"presence on TikTok"});
  EXPECT_TRUE(values(against, "decisions").empty());
  EXPECT_EQ(values(extractor.extract("One decision - we will not list on Zomato, commission is too high"),
                   "rejected"),
            std::vector<std::string>{"Zomato"});
  EXPECT_EQ(values(extractor.extract("We decided no Amazon, they take too much"), "rejected"),
            std::vector<std::string>{"Amazon"});
  EXPECT_EQ(values(extractor.extract("also nixed the hard seltzer idea. not us."), "rejected"),
            std::vector<std::string>{"hard seltzer idea"});
  EXPECT_EQ(values(extractor.extract("We thought about Amazon Handmade but we said no. It does not match."),
                   "rejected"),
            std::vector<std::string>{"Amazon Handmade"});
  EXPECT_EQ(values(extractor.extract("We decided to open on Sundays."), "decisions"),
            std::vector<std::string>{"open on Sundays"});
  // A fall in prices is no refusal, and a question states nothing.
  EXPECT_TRUE(values(extractor.extract("Prices dropped 10% last month."), "rejected").empty());
  EXPECT_TRUE(values(extractor.extract("Should we say no to Etsy?"), "rejected").empty());
}

TEST(QuestionKeys, OutrightKeysAreNamedByWordsNoOtherKeyShares) {
  const std::string competition = "which bakeries have I named as competition so far?";
  const auto mentioned = keys_mentioned(competition);
  EXPECT_NE(std::find(mentioned.begin(), mentioned.end(), "company"), mentioned.end());  // by "name"
  EXPECT_EQ(keys_named_outright(competition), std::vector<std::string>{"competitors"});
  // "how much" asks for an amount; "marketing" is the budget's word, shared with the target market.
  EXPECT_TRUE(keys_named_outright("how much did i say i have for marketing this yr").empty());
  EXPECT_EQ(keys_named_outright("which platform did we rule out?"), std::vector<std::string>{"rejected"});
}

TEST_F(Extractor, PriceChangesAndListedPricesInEverydayWords) {
  EXPECT_EQ(values(extractor.extract("And follow-ups are going to €65 from May."), "price"),
            std::vector<std::string>{"€65 (follow-ups)"});
  EXPECT_EQ(
      values(extractor.extract("and we're upping deep clean to $309, the supplies went crazy"), "price"),
      std::vector<std::string>{"$309 (deep clean)"});
  EXPECT_EQ(values(extractor.extract("Also Glow Butter is moving to ₦9,500 because shea went up."), "price"),
            std::vector<std::string>{"₦9,500 (Glow Butter)"});
  EXPECT_EQ(values(extractor.extract("Bestseller is Glow Butter, ₦8,500 for 250g."), "price"),
            std::vector<std::string>{"₦8,500 (Glow Butter)"});
  EXPECT_EQ(values(extractor.extract("Our flagship is a pale ale called Lagan Lazy, £3.20 a can."), "price"),
            std::vector<std::string>{"£3.20 (Lagan Lazy)"});
  EXPECT_EQ(values(extractor.extract("Kids' lessons are KES 6,000 a month for 4 lessons."), "price"),
            std::vector<std::string>{"KES 6,000 (Kids' lessons)"});
  EXPECT_EQ(values(extractor.extract("Subscription is 425 kr per week."), "price"),
            std::vector<std::string>{"425 kr (Subscription)"});
  EXPECT_EQ(values(extractor.extract("Full design package from AED 15,000 per room."), "price"),
            std::vector<std::string>{"AED 15,000 (Full design package)"});
  // Someone else's price is not the user's.
  EXPECT_TRUE(values(extractor.extract("my pal's place in edinburgh is £130"), "price").empty());
  EXPECT_TRUE(values(extractor.extract("Marble & Mist quote around AED 25,000 per room."), "price").empty());
}

TEST_F(Extractor, TeamSizeStatedAtTheEndOfAClause) {
  EXPECT_EQ(values(extractor.extract("One of our associates has departed, so we are now two."), "team_size"),
            std::vector<std::string>{"two"});
  EXPECT_EQ(values(extractor.extract("we're down to 4 after Sam left"), "team_size"),
            std::vector<std::string>{"4"});
  EXPECT_EQ(values(extractor.extract("The team is now 6."), "team_size"), std::vector<std::string>{"6"});
  EXPECT_TRUE(values(extractor.extract("We're 3 weeks from launch."), "team_size").empty());
}

TEST_F(Extractor, CompanySuffixDoesNotEndTheSentence) {
  const auto facts = extractor.extract(
      "Full-time is $1,300/month. Island Staffing Co. offers full-time at $1,100 but with high turnover.");
  EXPECT_EQ(values(facts, "price"), std::vector<std::string>{"$1,300 (Full-time)"});
}

TEST_F(Extractor, SomeoneTakingOverAJobIsWhoDoesItNow) {
  EXPECT_EQ(
      values(extractor.extract("bit of a shake up - Hemi's gone to Aussie, Lani's taking the site over"),
             "person:site"),
      std::vector<std::string>{"Lani"});
  EXPECT_EQ(
      values(extractor.extract("Ashley is stepping back, Marisol from our crew is taking over the social"),
             "person:social"),
      std::vector<std::string>{"Marisol"});
  EXPECT_EQ(values(extractor.extract("Oskar moved away. Freja will finish the website."), "person:site"),
            std::vector<std::string>{"Freja"});
}

TEST_F(Extractor, NameChangeAnnouncedThenChosen) {
  const auto facts = extractor.extract(
      "update: name change. Suds on Wheels is taken in TX by some guy in Dallas. going with Tidy Tails "
      "Mobile.");
  const auto company = find(facts, "company");
  ASSERT_TRUE(company);
  EXPECT_EQ(company->value, "Tidy Tails Mobile");
  EXPECT_EQ(company->cue, Cue::correction);
  // Without a name change in the message, "going with" is a decision, not a new name.
  EXPECT_TRUE(values(extractor.extract("We're going with Canva for the designs."), "company").empty());
}

TEST_F(Extractor, DateRangesKeepBothDays) {
  const auto moved = extractor.extract("Robo Rally shifted to 9–13 June, venue clash");
  ASSERT_FALSE(moved.empty());
  EXPECT_EQ(moved.front().value, "9-13 June");
}

TEST_F(Extractor, CompanyFromTheOwnersRoleOrOwnership) {
  EXPECT_EQ(
      values(extractor.extract("I am the founding CPA of Ledgerlight Accounting in Toronto."), "company"),
      std::vector<std::string>{"Ledgerlight Accounting"});
  EXPECT_EQ(values(extractor.extract("hey so im Gus, co-own Tidewrack Brewing in portland maine"), "company"),
            std::vector<std::string>{"Tidewrack Brewing"});
  EXPECT_TRUE(values(extractor.extract("I'm the head of marketing at a bakery."), "company").empty());
}

TEST_F(Extractor, WhatMakesUsDifferentIsAStatementWithItsAnswer) {
  const auto usp = values(
      extractor.extract("What makes us different: we teach Kenyan and African music alongside the grades."),
      "usp");
  ASSERT_EQ(usp.size(), 1u);
  EXPECT_EQ(usp.front().rfind("teach", 0), 0u);
  EXPECT_EQ(values(extractor.extract("Our difference is we keep VAs long-term."), "usp"),
            std::vector<std::string>{"keep VAs long-term"});
  EXPECT_TRUE(values(extractor.extract("What makes us different from Acme?"), "usp").empty());
}

TEST_F(Extractor, PriceKeepsWhatItIsFor) {
  auto facts = extractor.extract("Our sourdough costs £4.50 and we sell about 200 loaves a week.");
  ASSERT_TRUE(find(facts, "price"));
  EXPECT_EQ(find(facts, "price")->value, "£4.50 (sourdough)");
}

TEST_F(Extractor, AmountsWrittenTheWayEachCountryWritesThem) {
  // A currency mark after the amount, digits grouped by spaces, a mark in any case.
  EXPECT_EQ(values(extractor.extract("Prices: monthly for locals 65 €, intensive week for foreigners 180 €."),
                   "price"),
            (std::vector<std::string>{"65 € (monthly for locals)", "180 € (intensive week for foreigners)"}));
  EXPECT_EQ(values(extractor.extract("Rings 220 zł, earrings 160 zł."), "price"),
            (std::vector<std::string>{"160 zł (earrings)"}));
  EXPECT_EQ(values(extractor.extract("Custom boards: fish R7 200, longboard R9 800."), "price"),
            (std::vector<std::string>{"R7 200 (fish)", "R9 800 (longboard)"}));
  EXPECT_EQ(values(extractor.extract("bracelets KSh 650, necklaces KSh 1,200"), "price"),
            (std::vector<std::string>{"KSh 650 (bracelets)", "KSh 1,200 (necklaces)"}));
  EXPECT_EQ(values(extractor.extract("prices right now: simit 15 TL, poğaça 20 TL."), "price"),
            (std::vector<std::string>{"15 TL (simit)", "20 TL (poğaça)"}));
  // A currency code is a word of its own: "open 24 hours" holds no "pen 24".
  EXPECT_TRUE(values(extractor.extract("We are open 24 hours, 7 days a week."), "price").empty());
  // The user and their verb are not the thing priced.
  EXPECT_EQ(values(extractor.extract("The dress price we change to 419 zł from January."), "price"),
            std::vector<std::string>{"419 zł (dress)"});
  EXPECT_EQ(values(extractor.extract("custom áo dài now 1.500.000đ from 1 october."), "price"),
            std::vector<std::string>{"1.500.000đ (custom áo dài)"});
  // The user's own price after a sentence opening on a cost ("Cheese prices…") or a supplier.
  EXPECT_EQ(values(extractor.extract("Cheese prices went crazy, so cheese manoushe is $3 now."), "price"),
            std::vector<std::string>{"$3 (cheese manoushe)"});
  EXPECT_EQ(
      values(extractor.extract("Mango supplier raised prices so dried mango 200g is now ₱195."), "price"),
      std::vector<std::string>{"₱195 (dried mango 200g)"});
  const auto found = amounts_in("small dogs R350, big boys 2 800 Kč, hats US$75");
  ASSERT_EQ(found.size(), 3u);
  EXPECT_EQ(found[0].amount, "R350");
  EXPECT_EQ(found[1].amount, "2 800 Kč");
  EXPECT_EQ(found[1].mark, "kč");
  EXPECT_EQ(found[2].mark, "us$");
}

TEST_F(Extractor, EveryPriceOfAListKeepsItsOwnThing) {
  EXPECT_EQ(
      values(extractor.extract("half day £65, full day £110, 3 day expedition £495 all kit incl"), "price"),
      (std::vector<std::string>{"£65 (half day)", "£110 (full day)", "£495 (3 day expedition)"}));
  // An aside between a thing and its price describes the thing.
  EXPECT_EQ(
      values(extractor.extract("rates: specialist (bookkeeping, ads) $14/hr, serenata (5 songs) $3,500"),
             "price"),
      (std::vector<std::string>{"$14 (specialist)", "$3,500 (serenata)"}));
  EXPECT_EQ(values(extractor.extract("Private charter for the whole boat: KSh 85,000."), "price"),
            (std::vector<std::string>{"KSh 85,000 (whole boat)"}));
  // A sentence of only a thing and its price, after other sentences.
  EXPECT_EQ(values(extractor.extract("R650 a month. Students R450. 420 members."), "price"),
            (std::vector<std::string>{"R650", "R450 (Students)"}));
  EXPECT_EQ(values(extractor.extract("New prices from January: full wedding planning ₦3m."), "price"),
            (std::vector<std::string>{"₦3m (full wedding planning)"}));
  // A list's shape alone, naming no thing, is no price.
  EXPECT_TRUE(
      values(extractor.extract("We're adding a beach package in Diani, from KSh 400,000"), "price").empty());
}

TEST_F(Extractor, SomeoneElsesPriceIsNotOurs) {
  EXPECT_TRUE(
      values(extractor.extract("The supermarket at the bottom of the hill sells a so-called Comté at €19 "
                               "per kilo."),
             "price")
          .empty());
  EXPECT_TRUE(values(extractor.extract("The guy next door charges $30 for a haircut."), "price").empty());
  auto facts = extractor.extract("Hart's charges £5.20 for their sourdough, ours is £4.50.");
  const auto prices = values(facts, "price");
  ASSERT_EQ(prices.size(), 1u);
  EXPECT_TRUE(prices[0].starts_with("£4.50")) << prices[0];
  EXPECT_TRUE(
      values(extractor.extract("My cousin in Wichita charges $120 for a full groom."), "price").empty());
  EXPECT_TRUE(
      values(extractor.extract("Lniany Zakątek, other brand from Poznań, sells dress for 449 zł."), "price")
          .empty());
  EXPECT_TRUE(
      values(extractor.extract("pichi surf down the beach charges $20.000 a lesson, ours max 6"), "price")
          .empty());
  EXPECT_TRUE(
      values(extractor.extract("A big agency, Andes Top, sells Salkantay at S/ 1,500."), "price").empty());
  // A kind of client is not another business.
  EXPECT_EQ(
      values(extractor.extract("Retainer for a sole proprietor is R2,450; for a small agency it starts at "
                               "R7,800."),
             "price")
          .size(),
      2u);
  // A price hedged with "is like" and no "we" in its clause is what something costs elsewhere.
  EXPECT_TRUE(
      values(extractor.extract("brookside yoghurt 500ml is like KES 120 at carrefour so we r pricier"),
             "price")
          .empty());
  // "US$" is a currency, not "us": the sentence is still about the other company.
  EXPECT_TRUE(values(extractor.extract("Andean Summit sells Salkantay for US$590 in groups of 16."), "price")
                  .empty());
}

TEST_F(Extractor, HypotheticalAndPastStateNothing) {
  EXPECT_TRUE(extractor.extract("What if we charged $99 for the premium tier?").empty());
  EXPECT_TRUE(values(extractor.extract("Last year our budget was $5,000."), "budget").empty());
  EXPECT_TRUE(values(extractor.extract("I used to work at Deloitte in London."), "location").empty());
}

TEST_F(Extractor, BudgetIsNotAlsoAPrice) {
  auto facts = extractor.extract("My marketing budget is tiny, about £300 a month.");
  EXPECT_EQ(values(facts, "budget"), std::vector<std::string>{"£300 (marketing)"});
  EXPECT_TRUE(values(facts, "price").empty());
}

TEST_F(Extractor, GoalsWrittenAsNotes) {
  EXPECT_EQ(values(extractor.extract("ok so big goal: 400 simits a day by end of the year."), "goals"),
            std::vector<std::string>{"400 simits a day by end of the year"});
  EXPECT_EQ(values(extractor.extract("goal this season: 500 alumnos. last season 340"), "goals"),
            std::vector<std::string>{"500 alumnos"});
  // Thousands grouped by a dot are one number, not the end of a sentence.
  EXPECT_EQ(values(extractor.extract("goal 2.000 jars this year, last year we did 1.300"), "goals"),
            std::vector<std::string>{"2.000 jars this year"});
  EXPECT_EQ(values(extractor.extract("we're doing so well we raised the goal to 2.500 jars!!!"), "goals"),
            std::vector<std::string>{"2.500 jars"});
  EXPECT_EQ(
      values(extractor.extract("Goal: corporate team-building should be 35% of revenue, now 15%."), "goals"),
      std::vector<std::string>{"corporate team-building should be 35% of revenue"});
}

TEST_F(Extractor, AChosenNameKeepsItsAmpersand) {
  EXPECT_EQ(values(extractor.extract("Ok decided!! We're going with Salt & Swell. The other felt cheesy."),
                   "decisions"),
            std::vector<std::string>{"Salt & Swell"});
}

TEST_F(Extractor, OpeningDaysAndHours) {
  EXPECT_EQ(values(extractor.extract("We're open Tuesday to Sunday, 7am till 10am, plus evenings in summer."),
                   "hours"),
            std::vector<std::string>{"open Tuesday to Sunday, 7am till 10am"});
  // Several parts of one message are one answer.
  EXPECT_EQ(values(extractor.extract("too tired. from march closed monday and tuesday. open wed-sun 11-7."),
                   "hours"),
            std::vector<std::string>{"closed monday and tuesday; open wed-sun 11-7"});
  EXPECT_EQ(values(extractor.extract("- Mon–Fri 10–19 only."), "hours"),
            std::vector<std::string>{"Mon-Fri 10-19"});
  EXPECT_EQ(values(extractor.extract("Also we adding Wednesday, so now a Wednesday to Sunday, same hours."),
                   "hours"),
            std::vector<std::string>{"Wednesday to Sunday"});
  EXPECT_EQ(values(extractor.extract("Update: we now close at 3am instead of 2am"), "hours"),
            std::vector<std::string>{"close at 3am"});
  // A launch is no opening hours.
  EXPECT_TRUE(values(extractor.extract("the shop will open in March"), "hours").empty());
}

TEST_F(Extractor, RefusalsWrittenAsNotes) {
  EXPECT_EQ(values(extractor.extract("no tiktok please. i am too old for dance videos"), "rejected"),
            std::vector<std::string>{"tiktok"});
  EXPECT_EQ(values(extractor.extract("Khalas, I decided: no Talabat. They take too much."), "rejected"),
            std::vector<std::string>{"Talabat"});
  EXPECT_EQ(values(extractor.extract("Instagram yes, Facebook no (don't want to manage it)"), "rejected"),
            std::vector<std::string>{"Facebook"});
  EXPECT_EQ(values(extractor.extract("I don't want to use the word 'exotic' anywhere please"), "rejected"),
            std::vector<std::string>{"exotic"});
  // Ways of speaking refuse nothing.
  EXPECT_TRUE(values(extractor.extract("No worries, thanks! no problem."), "rejected").empty());
  EXPECT_TRUE(values(extractor.extract("Their fabric is thicker, no cóż."), "rejected").empty());
  // Refused in the passive, or after someone else proposed it.
  EXPECT_EQ(
      values(extractor.extract("Viator was considered and rejected because of commission."), "rejected"),
      std::vector<std::string>{"Viator"});
  EXPECT_EQ(values(extractor.extract("Someone offered MercadoLibre ads and I said no, not our public."),
                   "rejected"),
            std::vector<std::string>{"MercadoLibre"});
  // "decided no" decides nothing.
  EXPECT_TRUE(values(extractor.extract("I've decided no, too many returns."), "decisions").empty());
}

TEST_F(Extractor, AnAmountCountsNoPeople) {
  EXPECT_TRUE(values(extractor.extract("Budget for the rebrand is $5,000 total, including the designer."),
                     "team_size")
                  .empty());
  // How many a thing serves is not how many work here.
  EXPECT_TRUE(values(extractor.extract("zaatar manoushe $1.5, catering tray for 20 people $45."), "team_size")
                  .empty());
  EXPECT_EQ(values(extractor.extract("one of our associates has departed, so we are now two."), "team_size"),
            std::vector<std::string>{"two"});
}

TEST_F(Extractor, TeamSizeInItsManyForms) {
  EXPECT_EQ(values(extractor.extract("We're a team of 5 including me."), "team_size"),
            std::vector<std::string>{"5"});
  EXPECT_EQ(values(extractor.extract("hired 3 more guys, 8 techs now"), "team_size"),
            std::vector<std::string>{"8"});
  auto grown = find(extractor.extract("We've also grown to 15 with the new sales hires."), "team_size");
  ASSERT_TRUE(grown);
  EXPECT_EQ(grown->value, "15");
  EXPECT_EQ(grown->cue, Cue::correction);
}

TEST_F(Extractor, LaunchDateAndItsMove) {
  EXPECT_EQ(values(extractor.extract("We're launching the app on 3 March."), "launch_date"),
            std::vector<std::string>{"3 March"});
  auto moved = find(extractor.extract("Bad news: the launch slipped, it's pushed to May 2."), "launch_date");
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->value, "May 2");
  EXPECT_EQ(moved->cue, Cue::correction);
}

TEST_F(Extractor, CompanyNameAndRename) {
  EXPECT_EQ(values(extractor.extract("I run a little bakery called Brightside Bakery in Leeds."), "company"),
            std::vector<std::string>{"Brightside Bakery"});
  auto renamed = find(extractor.extract("Big change: we renamed the shop to Scruff & Tumble."), "company");
  ASSERT_TRUE(renamed);
  EXPECT_EQ(renamed->value, "Scruff & Tumble");
  EXPECT_EQ(renamed->cue, Cue::correction);
}

TEST_F(Extractor, CompetitorsAsAListAndOneLeaving) {
  auto listed =
      values(extractor.extract("Our main competitors are Greggs, Pret and Hart's Bakery."), "competitors");
  EXPECT_EQ(listed, (std::vector<std::string>{"Greggs", "Pret", "Hart's Bakery"}));
  auto gone = find(extractor.extract("Acme Cleaning shut down last month."), "competitors");
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->value, "Acme Cleaning");
  EXPECT_EQ(gone->cue, Cue::retraction);
}

TEST_F(Extractor, CompetitorsNamedBesideTheirPriceOrByWhatTheyAre) {
  EXPECT_EQ(values(extractor.extract("A cut is €30. Kapsalon Zuid asks €38 for the same, so we are cheaper."),
                   "competitors"),
            std::vector<std::string>{"Kapsalon Zuid"});
  EXPECT_EQ(
      values(extractor.extract("At Ferrobloc, across the river, they charge €70 but the groups are huge."),
             "competitors"),
      std::vector<std::string>{"Ferrobloc"});
  EXPECT_EQ(values(extractor.extract("The closest other bakery is Crumb Theory, but they only do sourdough."),
                   "competitors"),
            std::vector<std::string>{"Crumb Theory"});
  EXPECT_EQ(
      values(extractor.extract("Down the road, Harbour Pottery Works has classes of twenty."), "competitors"),
      std::vector<std::string>{"Harbour Pottery Works"});
  // A sentence's first capitalised word beside an amount is no business.
  EXPECT_TRUE(values(extractor.extract("Basic service is €45 now."), "competitors").empty());
}

TEST_F(Extractor, ACompanySuffixInsideAListKeepsTheListWhole) {
  EXPECT_EQ(values(extractor.extract(
                       "Competitors I watch most are Fjord Knits Co. and Ullvarer, more than Devold."),
                   "competitors"),
            (std::vector<std::string>{"Fjord Knits Co", "Ullvarer", "Devold"}));
}

TEST_F(Extractor, AGoalMovedAndPricesListedOneALine) {
  EXPECT_EQ(values(extractor.extract("we hit 168 members!! reckon we bump the goal to 220"), "goals"),
            std::vector<std::string>{"220"});
  EXPECT_EQ(values(extractor.extract("Christmas goal we raise to 700 hampers!"), "goals"),
            std::vector<std::string>{"700 hampers"});
  EXPECT_EQ(values(extractor.extract("- gel manicure €35\n- pedicure €40"), "price"),
            (std::vector<std::string>{"€35 (gel manicure)", "€40 (pedicure)"}));
  const auto changed = find(extractor.extract("And Premium goes up to £99 from the 1st."), "price");
  ASSERT_TRUE(changed);
  EXPECT_EQ(changed->value, "£99 (Premium)");
}

TEST_F(Extractor, PeopleByRoleInBothOrders) {
  EXPECT_EQ(values(extractor.extract("My designer is Noor Haddad."), "person:designer"),
            std::vector<std::string>{"Noor Haddad"});
  EXPECT_EQ(values(extractor.extract("Aisha Karim will join as partner in his place."), "person:partner"),
            std::vector<std::string>{"Aisha Karim"});
  EXPECT_EQ(values(extractor.extract("update marco quit :( kayla is my new helper"), "person:helper"),
            std::vector<std::string>{"kayla"});
}

TEST_F(Extractor, QuestionsStateNothing) {
  EXPECT_TRUE(extractor.extract("Who are we actually competing with these days?").empty());
}

TEST_F(Extractor, QuestionsWithoutTheirMarkStateNothing) {
  EXPECT_TRUE(extractor.extract("whats my studio called again lol").empty());
  EXPECT_TRUE(extractor.extract("ok memory test, who's my co-founder again").empty());
  EXPECT_TRUE(extractor.extract("Where is the second branch going to be").empty());
  // A statement that merely opens with a question word is still a statement.
  EXPECT_FALSE(
      values(extractor.extract("what we do is simple: our price is $40 per class."), "price").empty());
  // A question mark inside an aside does not turn the sentence into a question.
  EXPECT_EQ(
      values(extractor.extract("I took your advice (I think?) and the bars are now NZ$14 each."), "price"),
      std::vector<std::string>{"NZ$14 (bars)"});
}

TEST_F(Extractor, AClauseWithoutItsOwnSubjectContinuesTheOneBefore) {
  EXPECT_TRUE(
      values(extractor.extract("The practice we are compared to is larger; they have, I believe, around "
                               "100 staff."),
             "team_size")
          .empty());
  EXPECT_EQ(values(extractor.extract("They charge $80, but we charge $60 a session."), "price").size(), 1u);
}

TEST_F(Extractor, DatesInWordsAndAfterAWeekday) {
  auto open_day =
      values(extractor.extract("The open day will be on the twenty-first of September."), "launch_date");
  auto events = values(extractor.extract("The open day will be on the twenty-first of September."), "events");
  open_day.insert(open_day.end(), events.begin(), events.end());
  ASSERT_FALSE(open_day.empty());
  EXPECT_NE(open_day[0].find("twenty-first of September"), std::string::npos) << open_day[0];
  EXPECT_EQ(values(extractor.extract("nah scrap the 13th. flash day is now fri 27 june"), "events"),
            std::vector<std::string>{"27 june (flash day)"});
}

TEST_F(Extractor, RenamesSaidWithoutTheWordRename) {
  EXPECT_EQ(values(extractor.extract("FYI: the firm becomes Mokoena & Co. Please use it."), "company"),
            std::vector<std::string>{"Mokoena & Co"});
  const auto renamed =
      values(extractor.extract("also we rebranded, not Splitzy anymore, its Halvsies"), "company");
  ASSERT_FALSE(renamed.empty());
  EXPECT_EQ(renamed.back(), "Halvsies");
  auto quoted = find(extractor.extract("It's 'Suds & Snouts' now, Marisol hated the old one"), "company");
  ASSERT_TRUE(quoted);
  EXPECT_EQ(quoted->value, "Suds & Snouts");
  EXPECT_EQ(quoted->cue, Cue::correction);
}

TEST_F(Extractor, AOneWordSentenceNamesWhatTheNextIsAbout) {
  const auto budget = values(extractor.extract("Budget. The new number is £500 a month."), "budget");
  ASSERT_EQ(budget.size(), 1u);
  EXPECT_TRUE(budget[0].starts_with("£500")) << budget[0];
}

TEST_F(Extractor, QuestionsAskForAKindOfValue) {
  EXPECT_EQ(extractor.answer_kind("when's the flash day happening"), AnswerKind::date);
  EXPECT_EQ(extractor.answer_kind("How much is a drop-in class?"), AnswerKind::money);
  EXPECT_EQ(extractor.answer_kind("How many vets do we have now?"), AnswerKind::count);
  EXPECT_EQ(extractor.answer_kind("Where is the practice located at present?"), AnswerKind::place);
  EXPECT_EQ(extractor.answer_kind("Who is my designer?"), AnswerKind::any);
  const auto said = extractor.statements(
      "My friend charges $50 for hers. A drop-in class is €14. Should I raise it?", AnswerKind::money);
  // The friend's price is kept, marked as someone else's.
  ASSERT_EQ(said.size(), 2u);
  EXPECT_TRUE(said[0].others);
  EXPECT_FALSE(said[1].others);
  EXPECT_TRUE(said[1].sentence.starts_with("A drop-in class is €14")) << said[1].sentence;
  EXPECT_EQ(said[1].item, "drop-in class");
}

TEST_F(Extractor, PeopleByAnyRoleAndWhoStepsIntoIt) {
  EXPECT_EQ(values(extractor.extract("Rashida is our head gardener, she knows every plant."),
                   "person:head gardener"),
            std::vector<std::string>{"Rashida"});
  EXPECT_EQ(values(extractor.extract("Our sponsor is Tidal Oats for the whole season."), "person:sponsor"),
            std::vector<std::string>{"Tidal Oats"});
  EXPECT_EQ(values(extractor.extract("Pía Ortiz takes over as studio manager from Monday."),
                   "person:studio manager"),
            std::vector<std::string>{"Pía Ortiz"});
  EXPECT_EQ(
      values(extractor.extract("Bram, who has been on the counter for a year, is stepping up as shift lead."),
             "person:shift lead"),
      std::vector<std::string>{"Bram"});
  EXPECT_EQ(values(extractor.extract("Noor will be the new head chef."), "person:head chef"),
            std::vector<std::string>{"Noor"});
  // Words that only look like roles name no person: a price, a month.
  EXPECT_TRUE(values(extractor.extract("Our launch is March."), "person:launch").empty());
  EXPECT_TRUE(
      values(extractor.extract("the small one is R40, the big one is R70"), "person:small one").empty());
}

TEST_F(Extractor, JobsWithoutCapitalsAndInvestors) {
  EXPECT_EQ(values(extractor.extract("my nephew dario does our tiktok, hes a natural"), "person:social"),
            std::vector<std::string>{"dario"});
  EXPECT_EQ(values(extractor.extract("ines handles the bookkeeping these days"), "person:books"),
            std::vector<std::string>{"ines"});
  // Adverbs before a verb are no names.
  EXPECT_TRUE(values(extractor.extract("we still do our own bookkeeping"), "person:books").empty());
  EXPECT_EQ(values(extractor.extract("My aunt Grace Otieno has invested KES 400,000 in the bakery."),
                   "person:investor"),
            std::vector<std::string>{"Grace Otieno"});
}

TEST_F(Extractor, SuppliersOnlyWhereSuppliesAreTheSubject) {
  EXPECT_EQ(
      values(extractor.extract("Our flour comes from Millbrook Grain in the valley."), "person:supplier"),
      std::vector<std::string>{"Millbrook Grain"});
  EXPECT_TRUE(values(extractor.extract("We moved to Denver last spring."), "person:supplier").empty());
}

TEST_F(Extractor, AreasServedAreTwoOrMorePlaces) {
  EXPECT_EQ(values(extractor.extract("We clean offices mostly in Northcote, Brunswick and Coburg."), "areas"),
            (std::vector<std::string>{"Northcote", "Brunswick", "Coburg"}));
  EXPECT_TRUE(values(extractor.extract("We close in December and January."), "areas").empty());
  EXPECT_TRUE(values(extractor.extract("We are based in Leeds."), "areas").empty());
}

TEST_F(Extractor, BrandWordsAreThePersonalityAndALabelledCustomerIsTheTargetMarket) {
  EXPECT_EQ(values(extractor.extract("Brand words: trustworthy, spotless, friendly. Safi means clean."),
                   "personality"),
            (std::vector<std::string>{"trustworthy", "spotless", "friendly"}));
  EXPECT_EQ(values(extractor.extract("vibe words for the brand: loud, family, proud. like my abuela"),
                   "personality"),
            (std::vector<std::string>{"loud", "family", "proud"}));
  EXPECT_EQ(values(extractor.extract("Brand words I like: calm, honest, sea."), "personality"),
            (std::vector<std::string>{"calm", "honest", "sea"}));
  EXPECT_EQ(values(extractor.extract("Target customer: North American professionals who need Spanish"),
                   "target_market"),
            std::vector<std::string>{"North American professionals"});
  EXPECT_EQ(
      values(extractor.extract("Customers: corporate teams, stag parties, some tourists."), "target_market"),
      std::vector<std::string>{"corporate teams, stag parties, some tourists"});
  EXPECT_EQ(
      values(extractor.extract("The customer I'm building for is working women 28 to 45."), "target_market"),
      std::vector<std::string>{"working women 28 to 45"});
  // Words about something else are no brand words, and a customer's story is no target market.
  EXPECT_TRUE(values(extractor.extract("I need more words for the About page."), "personality").empty());
  EXPECT_TRUE(
      values(extractor.extract("A customer told me the bread was too salty."), "target_market").empty());
}

TEST_F(Extractor, AListsFirstPriceAPackOfNAndARivalDownTheRoad) {
  EXPECT_EQ(values(extractor.extract("Basic service 890 Kč, full service 1 650 Kč."), "price"),
            (std::vector<std::string>{"890 Kč (Basic service)", "1 650 Kč (full service)"}));
  EXPECT_EQ(values(extractor.extract("Prices up: lessons now US$25 and packs of 10 US$230."), "price"),
            (std::vector<std::string>{"US$25 (lessons)", "US$230 (packs of 10)"}));
  EXPECT_EQ(values(extractor.extract("Saigon Sweets down the road does a similar one for $7, but it's dry."),
                   "competitors"),
            std::vector<std::string>{"Saigon Sweets"});
  EXPECT_EQ(values(extractor.extract("wanna hit 150 boiler installs this year, did 96 last year"), "goals"),
            std::vector<std::string>{"150 boiler installs this"});
  // A sentence that only opens with a capitalised word and a price is no list of prices.
  EXPECT_TRUE(values(extractor.extract("Thanks, that helps a lot."), "price").empty());
  EXPECT_TRUE(values(extractor.extract("We did 96 installs last year."), "goals").empty());
}

TEST_F(Extractor, ARivalRuledOutOrGoneIsRetractedNotAdded) {
  const auto ruled_out = extractor.extract("Biggest competitor now is not IKEA.");
  ASSERT_TRUE(find(ruled_out, "competitors"));
  EXPECT_EQ(find(ruled_out, "competitors")->value, "IKEA");
  EXPECT_EQ(find(ruled_out, "competitors")->cue, Cue::retraction);
  const auto gone =
      extractor.extract("An update on the competitive landscape: Ledgerly has ceased operations entirely.");
  ASSERT_TRUE(find(gone, "competitors"));
  EXPECT_EQ(find(gone, "competitors")->value, "Ledgerly");
  EXPECT_EQ(find(gone, "competitors")->cue, Cue::retraction);
  EXPECT_EQ(find(extractor.extract("Our competitors are Acme Bakes and Dough Bros."), "competitors")->cue,
            Cue::plain);
}

TEST_F(Extractor, WhereTheOwnerRunsTheBusinessInLowerCaseAndByNeighbourhood) {
  EXPECT_EQ(
      values(extractor.extract("hi. morag here, i run kerr heating in broughty ferry, just me."), "location"),
      std::vector<std::string>{"broughty ferry"});
  EXPECT_EQ(values(extractor.extract("i hand-dye yarn in my shed in portree on skye"), "location"),
            std::vector<std::string>{"portree on skye"});
  EXPECT_EQ(values(extractor.extract("I own Fysio Kanaal, physiotherapy in Utrecht, Lombok neighbourhood."),
                   "location"),
            std::vector<std::string>{"Lombok"});
  EXPECT_EQ(values(extractor.extract("plumbing n heating in birmingham, sparkhill area."), "location"),
            std::vector<std::string>{"sparkhill"});
  EXPECT_EQ(values(extractor.extract("We have relocated from Nørrebro to a former warehouse in Aarhus."),
                   "location"),
            std::vector<std::string>{"Aarhus"});
  // A room is no place on the map, and a van is no address.
  EXPECT_TRUE(values(extractor.extract("I bake bread in my kitchen every morning."), "location").empty());
  EXPECT_TRUE(values(extractor.extract("We run everything out of one van."), "location").empty());
}

TEST_F(Extractor, GoalsCountedInThingsToWin) {
  EXPECT_EQ(values(extractor.extract("open day is on 3 May, want 60 sign-ups by June"), "goals"),
            std::vector<std::string>{"60 sign-ups by June"});
  EXPECT_TRUE(values(extractor.extract("I want 3 options for the logo"), "goals").empty());
}

TEST_F(Extractor, ListMembersLoseTheirQualifiers) {
  EXPECT_EQ(values(extractor.extract("we want to feel calm, honest and a little playful"), "personality"),
            (std::vector<std::string>{"calm", "honest", "playful"}));
}

TEST_F(Extractor, ASentenceOpeningWithACommonNounIsTheUsersOwn) {
  EXPECT_EQ(values(extractor.extract("Membership goes up to £55 a month in April."), "price"),
            std::vector<std::string>{"£55 (Membership)"});
  // A name there is still someone else's price.
  EXPECT_TRUE(values(extractor.extract("Brightwell charges £70 a month."), "price").empty());
}

TEST_F(Extractor, ABudgetIsNamedByItsOwnWord) {
  EXPECT_EQ(values(extractor.extract("Our event budget is $2,000, mostly for the venue."), "budget"),
            std::vector<std::string>{"$2,000 (event)"});
}

TEST_F(Extractor, RefusalsInEverydayWords) {
  EXPECT_EQ(
      values(extractor.extract("We will never offer home visits, the insurance is a nightmare."), "rejected"),
      std::vector<std::string>{"home visits"});
}

TEST_F(Extractor, NewPricesSaidAsWhatTheThingBecomes) {
  EXPECT_EQ(values(extractor.extract("The sourdough loaf becomes £5.40 next week."), "price"),
            std::vector<std::string>{"£5.40 (sourdough loaf)"});
  EXPECT_EQ(values(extractor.extract("My fees are €40 for a private class."), "price"),
            std::vector<std::string>{"€40 (private class)"});
  // A goal in money is a goal, not a price.
  const auto goal = extractor.extract("my goal is $8,000 a month by summer");
  EXPECT_TRUE(values(goal, "price").empty());
  EXPECT_EQ(values(goal, "goals"), std::vector<std::string>{"$8,000 a month by summer"});
}

TEST_F(Extractor, JobsInTheUsersOwnWords) {
  EXPECT_EQ(values(extractor.extract("my cousin Dilnoza helps me ice the cakes on Fridays"),
                   "person:ice the cakes"),
            std::vector<std::string>{"Dilnoza"});
  EXPECT_EQ(
      values(extractor.extract("So I hired Kwame part-time to run deliveries."), "person:run deliveries"),
      std::vector<std::string>{"Kwame"});
  EXPECT_EQ(values(extractor.extract("Team: me, Ilse Brandt (bookkeeping) and two drivers."), "person:books"),
            std::vector<std::string>{"Ilse Brandt"});
  EXPECT_EQ(values(extractor.extract("Jonah Price now does the books."), "person:books"),
            std::vector<std::string>{"Jonah Price"});
}

TEST_F(Extractor, ARelativeClauseAfterANameIsNoQuestion) {
  EXPECT_EQ(values(extractor.extract("Our beans come from Lamu Roasters, who work with small farms."),
                   "person:supplier"),
            std::vector<std::string>{"Lamu Roasters"});
  // After anything else it still reads as a question.
  EXPECT_TRUE(extractor.extract("ok quick test, who is our supplier").empty());
}

TEST_F(Extractor, ARenameSaidAsWhatTheBusinessIsNow) {
  EXPECT_EQ(values(extractor.extract("We decided to rebrand. Harbour IT Services is now Harbour Cloud."),
                   "company"),
            std::vector<std::string>{"Harbour Cloud"});
}

TEST(RecallRendering, AQuoteStopsShortOfAReplacedValue) {
  Recall recall;
  RecalledFact fact;
  fact.current.key = "person:site";
  fact.current.value = "Wiremu";
  fact.current.status = "active";
  fact.current.source_message_id = 2;
  fact.source_text = "Tama has moved to Perth 😢 Wiremu is doing the site from now on, he starts Monday";
  fact.source_at = 1700000000;
  store::Fact old;
  old.key = "person:site";
  old.value = "Tama";
  old.status = "superseded";
  old.source_message_id = 1;
  fact.earlier.push_back(old);
  recall.facts.push_back(fact);
  const std::string answer = render_recall(recall);
  EXPECT_NE(answer.find("Wiremu is doing the site"), std::string::npos) << answer;
  EXPECT_EQ(answer.find("Tama"), std::string::npos) << answer;
}

TEST(RecallRendering, APriceQuotesOnlyItsOwnClauseOfAList) {
  // The large dog's price changed in words the memory did not read as a change: the small dog's quote
  // must not restate the old one as if current.
  Recall recall;
  RecalledFact fact;
  fact.current.key = "price";
  fact.current.value = "$85 (small dog full groom)";
  fact.current.status = "active";
  fact.current.source_message_id = 1;
  fact.source_text = "prices: small dog full groom $85, large dog full groom $120, nail clip $15.";
  fact.source_at = 1700000000;
  recall.facts.push_back(fact);
  const std::string answer = render_recall(recall);
  EXPECT_NE(answer.find("small dog full groom $85"), std::string::npos) << answer;
  EXPECT_EQ(answer.find("$120"), std::string::npos) << answer;
  EXPECT_EQ(answer.find("$15"), std::string::npos) << answer;
}

TEST_F(Extractor, BrandKeywordsAnArrowedPriceChangeAndAPriceSoldAt) {
  EXPECT_EQ(values(extractor.extract("Brand keywords: breath, quiet, precise."), "personality"),
            (std::vector<std::string>{"breath", "quiet", "precise"}));
  EXPECT_EQ(values(extractor.extract("- small dog full groom 120 → 130 zł from 1 April"), "price"),
            std::vector<std::string>{"130 zł (small dog full groom)"});
  EXPECT_EQ(values(extractor.extract("Basic plan $45 -> $49"), "price"),
            std::vector<std::string>{"$49 (Basic plan)"});
  EXPECT_EQ(values(extractor.extract("We change private price to ₩80,000."), "price"),
            std::vector<std::string>{"₩80,000 (private)"});
  EXPECT_EQ(values(extractor.extract("Our signature is a 24-month Comté, sold at €38 per kilo."), "price"),
            std::vector<std::string>{"€38 (Comté)"});
}

TEST_F(Extractor, AThingSwitchedToANewSourceNamesIt) {
  EXPECT_EQ(values(extractor.extract("We switched shampoo to a Québec brand, Chiot Nature, made in Beauce."),
                   "person:shampoo"),
            std::vector<std::string>{"Chiot Nature"});
  EXPECT_EQ(
      values(extractor.extract("so we changed supplier to Açaí do Norte, from Belém"), "person:supplier"),
      std::vector<std::string>{"Açaí do Norte"});
  // A date, a price or the business's own place switched is no source.
  for (const auto* text : {"we changed the launch to March", "We switched the shop to Leith",
                           "we switched the class to Friday"}) {
    for (const auto& fact : extractor.extract(text)) EXPECT_FALSE(fact.key.starts_with("person:")) << text;
  }
}

TEST_F(Extractor, ANameChangeNamesTheNewNameNotAWordAfterIt) {
  EXPECT_EQ(
      values(extractor.extract("we changed the name because Nine Yards was taken so now it's Pattu Closet"),
             "company"),
      std::vector<std::string>{"Pattu Closet"});
  EXPECT_TRUE(values(extractor.extract("I want a new name easy for foreigners to say."), "company").empty());
}

TEST_F(Extractor, HostileInputIsFastAndHarmless) {
  std::string long_message(30000, 'a');
  long_message += " our price is $";
  EXPECT_NO_THROW(extractor.extract(long_message));
  EXPECT_NO_THROW(extractor.extract(std::string("\xff\xfe price is $5", 14)));
}

// ---------------------------------------------------------------------------------------------

store::Fact active(int64_t id, std::string key, std::string value) {
  store::Fact f;
  f.id = id;
  f.key = std::move(key);
  f.value = std::move(value);
  f.status = "active";
  return f;
}

TEST(FactPlan, NewValueSupersedesTheOld) {
  auto writes =
      plan_fact_writes({active(1, "location", "Leeds")}, {{"location", "York", 0.9, Cue::correction}}, 7);
  ASSERT_EQ(writes.size(), 1u);
  ASSERT_TRUE(writes[0].insert);
  EXPECT_EQ(writes[0].insert->status, "active");
  EXPECT_EQ(writes[0].insert->supersedes_id, 1);
  EXPECT_EQ(writes[0].insert->source_message_id, 7);
  EXPECT_EQ(writes[0].status_changes, (std::vector<std::pair<int64_t, std::string>>{{1, "superseded"}}));
}

TEST(FactPlan, LowConfidenceContradictionWaitsForConfirmation) {
  auto writes =
      plan_fact_writes({active(1, "location", "Leeds")}, {{"location", "Hull", 0.5, Cue::plain}}, 7);
  ASSERT_EQ(writes.size(), 1u);
  EXPECT_EQ(writes[0].insert->status, "pending_confirmation");
  EXPECT_TRUE(writes[0].status_changes.empty());
}

TEST(FactPlan, SameValueWritesNothingAndListsAccumulate) {
  EXPECT_TRUE(plan_fact_writes({active(1, "location", "Leeds")}, {{"location", "leeds", 0.9, Cue::plain}}, 7)
                  .empty());
  auto writes = plan_fact_writes(
      {active(1, "competitors", "Acme")},
      {{"competitors", "Bolt", 0.9, Cue::plain}, {"competitors", "Acme", 0.9, Cue::plain}}, 7);
  ASSERT_EQ(writes.size(), 1u);
  EXPECT_EQ(writes[0].insert->value, "Bolt");
  EXPECT_TRUE(writes[0].status_changes.empty());
}

TEST(FactPlan, PricesAreKeptPerItem) {
  auto writes =
      plan_fact_writes({active(1, "price", "$14 (taco plate)"), active(2, "price", "$25 (t-shirt)")},
                       {{"price", "$15 (taco plate)", 0.9, Cue::correction}}, 7);
  ASSERT_EQ(writes.size(), 1u);
  EXPECT_EQ(writes[0].insert->supersedes_id, 1);
  EXPECT_EQ(writes[0].status_changes, (std::vector<std::pair<int64_t, std::string>>{{1, "superseded"}}));
}

TEST(FactPlan, RetractionSupersedesTheListMember) {
  auto writes = plan_fact_writes({active(1, "competitors", "Acme Co"), active(2, "competitors", "Bolt")},
                                 {{"competitors", "Acme", 0.9, Cue::retraction}}, 7);
  ASSERT_EQ(writes.size(), 1u);
  EXPECT_FALSE(writes[0].insert);
  EXPECT_EQ(writes[0].status_changes, (std::vector<std::pair<int64_t, std::string>>{{1, "superseded"}}));
}

// ---------------------------------------------------------------------------------------------

TEST(FactPlan, APriceChangeNamingItsItemInOtherWordsReplacesTheNearestPrice) {
  const auto writes = plan_fact_writes(
      {active(1, "price", "$275 (45 minute show)"), active(2, "price", "$395 (show plus balloons package)")},
      {{"price", "$300 (basic show)", 0.9, Cue::correction}}, 7);
  ASSERT_EQ(writes.size(), 1u);
  EXPECT_EQ(writes[0].status_changes, (std::vector<std::pair<int64_t, std::string>>{{1, "superseded"}}));
  // Far from every current amount, or in another currency: a new item, not a change.
  EXPECT_TRUE(plan_fact_writes({active(1, "price", "$120 (large dog full groom)")},
                               {{"price", "$60 (large dog bath)", 0.9, Cue::correction}}, 7)[0]
                  .status_changes.empty());
  EXPECT_TRUE(plan_fact_writes({active(1, "price", "£75 (lockout call-out)")},
                               {{"price", "€85 (daytime callout)", 0.9, Cue::correction}}, 7)[0]
                  .status_changes.empty());
  // "call-out" and "callout" are one word.
  EXPECT_EQ(plan_fact_writes({active(1, "price", "£75 (lockout call-out)")},
                             {{"price", "£85 (daytime callout)", 0.9, Cue::correction}}, 7)[0]
                .status_changes,
            (std::vector<std::pair<int64_t, std::string>>{{1, "superseded"}}));
}

TEST(FactPlan, AGoalMovedWithoutItsMeasureReplacesTheGoalOfTheNearestCount) {
  const auto writes = plan_fact_writes(
      {active(1, "goals", "200 members by the end of the year"), active(2, "goals", "12 corporate events")},
      {{"goals", "220", 0.9, Cue::correction}}, 7);
  ASSERT_EQ(writes.size(), 1u);
  EXPECT_EQ(writes[0].status_changes, (std::vector<std::pair<int64_t, std::string>>{{1, "superseded"}}));
}

TEST(RecallQuestions, AQuestionAfterLeadInWordsIsStillAQuestion) {
  EXPECT_TRUE(recall_request("quick q where does our fish come from again").asks_memory);
  EXPECT_TRUE(recall_request("ok so what do we charge for the big candle").asks_memory);
  // Lead-in words before a statement make no question of it.
  EXPECT_FALSE(recall_request("ok so we raised the price of the big candle").asks_memory);
  EXPECT_FALSE(recall_request("btw our fish comes from Villa María").asks_memory);
}

TEST(RecallQuestions, WhereSomethingComesFromIsNotWhereTheBusinessIs) {
  const auto source = recall_request("where does our fish come from again?");
  EXPECT_TRUE(source.asks_memory);
  EXPECT_EQ(std::find(source.keys.begin(), source.keys.end(), "location"), source.keys.end());
  const auto based = recall_request("where are we based again?");
  EXPECT_NE(std::find(based.keys.begin(), based.keys.end(), "location"), based.keys.end());
}

TEST(RecallQuestions, ExplicitImplicitAndAdvice) {
  auto remind = recall_request("Remind me who my competitors are");
  EXPECT_TRUE(remind.asks_memory);
  EXPECT_TRUE(remind.explicit_ask);
  EXPECT_NE(std::find(remind.keys.begin(), remind.keys.end(), "competitors"), remind.keys.end());
  auto implicit = recall_request("when are we launching");
  EXPECT_TRUE(implicit.asks_memory);
  EXPECT_FALSE(implicit.explicit_ask);
  EXPECT_FALSE(recall_request("What should our price be for a premium tier?").asks_memory);
  EXPECT_FALSE(recall_request("Help me write a tagline").asks_memory);
  EXPECT_FALSE(recall_request("What does brand equity mean for a bakery?").asks_memory);
  // Another business asked for by what it is.
  const auto studio = recall_request("Which big studio near us did I mention?");
  EXPECT_NE(std::find(studio.keys.begin(), studio.keys.end(), "competitors"), studio.keys.end());
  const auto chain = recall_request("What is the name of the chain near the station that charges more?");
  EXPECT_NE(std::find(chain.keys.begin(), chain.keys.end(), "competitors"), chain.keys.end());
  const auto mine = recall_request("Which of my shops is busiest?");
  EXPECT_EQ(std::find(mine.keys.begin(), mine.keys.end(), "competitors"), mine.keys.end());
  // "meant" is not "mean": this asks about the user's own plan.
  EXPECT_TRUE(recall_request("when's the trailer meant to hit the road?").asks_memory);
  // "What's a …" asks for a definition, unless it asks how things stand now.
  EXPECT_FALSE(recall_request("What's a brand archetype?").asks_memory);
  EXPECT_TRUE(recall_request("what's a whole honey castella going for now?").asks_memory);
  const auto counted = recall_request("how many clients are we at?");
  EXPECT_NE(std::find(counted.keys.begin(), counted.keys.end(), "counts"), counted.keys.end());
}

TEST(RecallQuestions, YesAndNoSettleConfirmations) {
  EXPECT_EQ(confirmation_reply("yes, that's right"), std::optional<bool>(true));
  EXPECT_EQ(confirmation_reply("No"), std::optional<bool>(false));
  EXPECT_EQ(confirmation_reply("Tell me about brand archetypes"), std::nullopt);
}

TEST(ContextAssembly, DropsLowestPriorityWholeItemsAndSaysWhich) {
  std::vector<ContextItem> items = {{"instructions", 0, std::string(40, 'x') + " be a coach"},
                                    {"fact", 1, "Company: Brightside"},
                                    {"turn", 3, "user: hello there"},
                                    {"knowledge", 100, std::string(400, 'k')},
                                    {"knowledge", 100, "short passage"}};
  auto context = assemble_context(items, 40);
  EXPECT_LE(context.tokens, 40);
  std::vector<std::string> kept;
  for (const auto& item : context.kept) kept.push_back(item.kind);
  EXPECT_EQ(kept, (std::vector<std::string>{"instructions", "fact", "turn", "knowledge"}));
  EXPECT_EQ(context.dropped, std::vector<std::string>{"knowledge#1"});
  for (const auto& item : context.kept) EXPECT_NE(item.text, std::string(400, 'k'));  // never cut
}

TEST(Timestamps, IsoAndFreeText) {
  EXPECT_EQ(parse_timestamp("2023-05-08"), std::optional<int64_t>(1683504000000));
  EXPECT_EQ(parse_timestamp("2023-05-08T13:56:00Z"), std::optional<int64_t>(1683554160000));
  EXPECT_EQ(parse_timestamp("1:56 pm on 8 May, 2023"), std::optional<int64_t>(1683554160000));
  EXPECT_EQ(parse_timestamp("May 8, 2023"), std::optional<int64_t>(1683504000000));
  EXPECT_EQ(parse_timestamp("sometime last spring"), std::nullopt);
  EXPECT_EQ(parse_timestamp("2023-13-45"), std::nullopt);
}

// ---------------------------------------------------------------------------------------------

class MemoryStore : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = store::open_sqlite({(dir / "db.sqlite3").string(), 2, 5000});
    ASSERT_TRUE(opened);
    db = std::move(opened).value();
    memory = std::make_unique<Memory>(*db, MemoryOptions{4});
  }

  store::Message say(const store::User& user, const std::string& text) {
    store::Message m;
    m.user_id = user.id;
    m.role = "user";
    m.text = text;
    auto stored = db->append_message(m);
    EXPECT_TRUE(stored);
    auto observed = memory->observe(*stored);
    EXPECT_TRUE(observed);
    return *stored;
  }

  // The rendered answer to a memory question.
  std::string recalled(const store::User& user, const std::string& question) {
    auto recall = memory->recall(user.id, recall_request(question), question, 0);
    EXPECT_TRUE(recall) << recall.error().message;
    return recall ? render_recall(*recall) : "";
  }

  std::vector<store::Fact> facts(const store::User& user, bool all = false) {
    auto listed = db->list_facts(user.id, all);
    EXPECT_TRUE(listed);
    return *listed;
  }

  TempDir dir;
  std::unique_ptr<store::Store> db;
  std::unique_ptr<Memory> memory;
};

TEST_F(MemoryStore, AWhoQuestionNamingAPlaceIsNotAnsweredByThePlace) {
  auto user = *db->ensure_user("maricel");
  say(user, "We're opening a second branch in Mandaue on March 8!");
  say(user, "Kim will be branch head there.");
  const auto who = recalled(user, "Who's heading the Mandaue branch?");
  EXPECT_NE(who.find("Kim"), std::string::npos) << who;
  const auto where = recalled(user, "Where is the second branch going to be?");
  EXPECT_NE(where.find("Mandaue"), std::string::npos) << where;
}

TEST_F(MemoryStore, APriceFromADateOnReplacesTheOldOne) {
  auto user = *db->ensure_user("atelier");
  say(user, "Tarifs: a fauteuil Louis XV complete redo 480 € without fabric, a bergère 620 €.");
  say(user, "And from 1 January the Louis XV fauteuil is 520 €.");
  const auto answer = recalled(user, "What is the Louis XV price from January?");
  EXPECT_NE(answer.find("520 €"), std::string::npos) << answer;
  for (const auto& f : facts(user))
    EXPECT_EQ(f.value.find("480"), std::string::npos) << "still current: " << f.value;
}

TEST_F(MemoryStore, ACompetitorsPriceIsAnsweredFromWhatTheUserSaidOfIt) {
  auto user = *db->ensure_user("efua");
  say(user,
      "Our main product is the whipped body butter in a 250g jar, we sell it for GH₵ 85. There is a bigger "
      "brand in Accra, Shea Royale, selling something similar for GH₵ 140 but theirs has fragrance oil.");
  const auto theirs = recalled(user, "What's the Accra competitor charging for their butter?");
  EXPECT_NE(theirs.find("140"), std::string::npos) << theirs;
  const auto ours = recalled(user, "How much is our body butter jar?");
  EXPECT_NE(ours.find("85"), std::string::npos) << ours;
  EXPECT_EQ(ours.find("140"), std::string::npos) << ours;
}

TEST_F(MemoryStore, CorrectionKeepsHistoryAndAudits) {
  auto user = *db->ensure_user("ana");
  const auto first = say(user, "We're based in Leeds and our price is $49 a month.");
  say(user, "Actually we relocated to York last week.");
  auto all = facts(user, true);
  std::vector<std::string> locations;
  for (const auto& f : all) {
    if (f.key == "location") locations.push_back(f.value + ":" + f.status);
  }
  EXPECT_EQ(locations, (std::vector<std::string>{"Leeds:superseded", "York:active"}));
  for (const auto& f : all) {
    if (f.key == "price") {
      EXPECT_EQ(f.source_message_id, first.id);
    }
  }
  auto audit = db->audit_log(user.id);
  ASSERT_TRUE(audit);
  size_t adds = 0, supersedes = 0;
  for (const auto& a : *audit) {
    adds += a.action == "fact.add" ? 1 : 0;
    supersedes += a.action == "fact.superseded" ? 1 : 0;
  }
  EXPECT_EQ(adds, 3u);
  EXPECT_EQ(supersedes, 1u);
}

TEST_F(MemoryStore, ConfirmRejectAndCorrect) {
  auto user = *db->ensure_user("ana");
  say(user, "We're based in Leeds.");
  say(user, "I'm from Hull originally.");  // weak and contradicting: pending
  auto current = facts(user);
  auto pending = std::find_if(current.begin(), current.end(),
                              [](const auto& f) { return f.status == "pending_confirmation"; });
  ASSERT_NE(pending, current.end());
  auto confirmed = memory->change_fact(user.id, pending->id, "confirm", "", "user");
  ASSERT_TRUE(confirmed);
  EXPECT_EQ(confirmed->status, "active");
  EXPECT_NE(confirmed->confirmed_at, 0);
  // Rejecting the confirmed value brings the one it replaced back.
  auto rejected = memory->change_fact(user.id, pending->id, "reject", "", "user");
  ASSERT_TRUE(rejected);
  EXPECT_EQ(rejected->status, "rejected");
  current = facts(user);
  ASSERT_EQ(current.size(), 1u);
  EXPECT_EQ(current[0].value, "Leeds");
  auto corrected = memory->change_fact(user.id, current[0].id, "correct", "Leeds, West Yorkshire", "user");
  ASSERT_TRUE(corrected);
  EXPECT_EQ(corrected->supersedes_id, current[0].id);
  EXPECT_EQ(facts(user).size(), 1u);
  EXPECT_EQ(facts(user)[0].value, "Leeds, West Yorkshire");
  // Bad changes are refused and change nothing.
  EXPECT_EQ(memory->change_fact(user.id, corrected->id, "shred", "", "user").error().kind,
            ErrorKind::invalid_input);
  EXPECT_EQ(memory->change_fact(user.id, corrected->id, "correct", "  ", "user").error().kind,
            ErrorKind::invalid_input);
  EXPECT_EQ(memory->change_fact(user.id, 999999, "confirm", "", "user").error().kind, ErrorKind::not_found);
  EXPECT_EQ(facts(user)[0].value, "Leeds, West Yorkshire");
}

TEST_F(MemoryStore, UsersWithIdenticalFactsNeverSeeEachOther) {
  auto ana = *db->ensure_user("ana");
  auto ben = *db->ensure_user("ben");
  say(ana, "Our price is $49 a month and we're based in Leeds.");
  say(ben, "Our price is $49 a month and we're based in Leeds.");
  say(ben, "Actually our price is now $59 a month.");
  for (const auto& f : facts(ana, true)) EXPECT_EQ(f.user_id, ana.id);
  auto hits = memory->search(ana.id, "price month", 10);
  ASSERT_TRUE(hits);
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ((*hits)[0].message.user_id, ana.id);
  // Another user's fact id is not found through this user.
  const auto bens = facts(ben);
  EXPECT_EQ(memory->change_fact(ana.id, bens[0].id, "reject", "", "ana").error().kind, ErrorKind::not_found);
}

TEST_F(MemoryStore, RecallShowsTheCurrentValueAndEarlierOnesOnlyWhenAsked) {
  auto user = *db->ensure_user("ana");
  say(user, "Our monthly plan is $49.");
  say(user, "We dropped the monthly plan to $39 after feedback.");
  auto text = recalled(user, "What price did I settle on?");
  EXPECT_NE(text.find("$39"), std::string::npos) << text;
  EXPECT_EQ(text.find("$49"), std::string::npos) << text;
  text = recalled(user, "What was the price of the monthly plan before?");
  EXPECT_NE(text.find("$39"), std::string::npos) << text;
  // The superseded value only ever appears as earlier.
  bool earlier = false;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("$49") != std::string::npos) {
      EXPECT_NE(line.find("Earlier"), std::string::npos) << line;
      earlier = true;
    }
  }
  EXPECT_TRUE(earlier) << text;
}

TEST_F(MemoryStore, ATypedQuestionIsAnsweredByTheLatestStatementOfThatKind) {
  auto user = *db->ensure_user("ana");
  say(user, "Six engineers, one in the office. Boiler service £89. Call-out £65.");
  say(user, "Dave's Heating charges £75 for a service and does a rubbish job.");
  say(user, "Changes. Service is £95 now. Parts went up.");
  const auto text = recalled(user, "Boiler service price now?");
  EXPECT_NE(text.find("£95"), std::string::npos) << text;
  EXPECT_EQ(text.find("£89"), std::string::npos) << text;
  EXPECT_EQ(text.find("£75"), std::string::npos) << text;
}

TEST_F(MemoryStore, AnAmountForAnotherThingDoesNotAnswer) {
  auto user = *db->ensure_user("ana");
  say(user, "We're a small circle. A drop-in class is €14, and the ten-class pass is €120.");
  say(user, "Also, the tide has turned a little: the ten-class pass is €135 now.");
  const auto text = recalled(user, "How much is a drop-in class?");
  EXPECT_NE(text.find("€14"), std::string::npos) << text;
}

TEST_F(MemoryStore, OpeningDaysChangedAreTheCurrentOnes) {
  auto user = *db->ensure_user("ana");
  say(user, "We're open every day 7am to 3pm.");
  say(user, "We're closing on Sundays from now. Monday to Saturday, 7 to 3.");
  const auto text = recalled(user, "What days are we open now?");
  EXPECT_NE(text.find("Monday to Saturday"), std::string::npos) << text;
  EXPECT_EQ(text.find("every day"), std::string::npos) << text;
}

TEST_F(MemoryStore, APriceAskedByAThingNoSavedPriceIsForIsAnsweredFromTheUsersWords) {
  auto user = *db->ensure_user("ana");
  say(user, "Returns: sole trader return $450. BAS lodgement is something I do quarterly for $220 each.");
  const auto text = recalled(user, "What do we charge for BAS again?");
  EXPECT_NE(text.find("$220"), std::string::npos) << text;
  // Of two saved prices, the one whose thing the question names.
  say(user, "grooming: small dog full groom $85, large dog full groom $120");
  const auto dog = recalled(user, "how much is a large dog groom?");
  EXPECT_NE(dog.find("$120"), std::string::npos) << dog;
  EXPECT_EQ(dog.find("$85"), std::string::npos) << dog;
  // A size asked in other words.
  const auto big = recalled(user, "how much for a big dog full groom?");
  EXPECT_NE(big.find("$120"), std::string::npos) << big;
  EXPECT_EQ(big.find("$85"), std::string::npos) << big;
}

TEST_F(MemoryStore, WhoDoesAJobIsAnsweredByTheMessageNamingThemBesideIt) {
  auto user = *db->ensure_user("ana");
  say(user, "Custom shortboard R6 500, fish R7 200, longboard R9 800.");
  say(user, "Glasser is my mate Wes, he's got his own bay but works with me.");
  say(user, "competition: the big imported brands, and Point Break Boards in Ballito.");
  say(user, "and Point Break Boards closed down, the oke moved to J-Bay.");
  const auto text = recalled(user, "who glasses my boards, for the credit on the post?");
  EXPECT_NE(text.find("Wes"), std::string::npos) << text;
  // Words that also name fact keys ("shop"), and a job handed on.
  auto other = *db->ensure_user("ben");
  say(other, "workshop: me, my father Andrzej (master), my cousin Ola does shop");
  say(other, "Ola leaving to study in Warsaw. new shop person: Paulina");
  const auto shop = recalled(other, "who runs our shop now?");
  EXPECT_NE(shop.find("Paulina"), std::string::npos) << shop;
  // The saved people do other jobs; the job is asked in other words than the user's.
  auto third = *db->ensure_user("cy");
  say(third, "My brother Jakub is the brewer. Don Chuy is our maestro mezcalero.");
  say(third, "my baba Giorgos keeps the bees, my cousin Nikos does the markets on Saturdays");
  const auto hives = recalled(third, "who looks after the hives?");
  EXPECT_NE(hives.find("Giorgos"), std::string::npos) << hives;
  EXPECT_EQ(hives.find("Jakub"), std::string::npos) << hives;
  // Names in lower case, and a job handed on: "now" wants the latest.
  auto fourth = *db->ensure_user("di");
  say(fourth, "callum's doing the facebook now, he's better at it than me. he posts on tuesdays");
  say(fourth, "aye back. want a facebook post for the winter service rush");
  say(fourth, "callum's away to college full time. my niece eilidh is taking over the facebook");
  const auto socials = recalled(fourth, "who's doing our socials now?");
  EXPECT_NE(socials.find("eilidh"), std::string::npos) << socials;
  // A role written with or without its hyphen.
  auto fifth = *db->ensure_user("ed");
  say(fifth, "its me and my co-founder Aoife Murphy, shes the dev, im on growth.");
  const auto cofounder = recalled(fifth, "who's my cofounder again");
  EXPECT_NE(cofounder.find("Aoife"), std::string::npos) << cofounder;
}

// Every line naming `old` says it is history.
void expect_only_as_history(const std::string& text, const std::string& old) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.find(old) == std::string::npos) continue;
    EXPECT_TRUE(line.find("changed") != std::string::npos || line.find("Earlier") != std::string::npos)
        << text;
  }
}

TEST_F(MemoryStore, AQuotedStatementIsFollowedToTheChangeThatReplacedIt) {
  auto user = *db->ensure_user("ana");
  say(user, "A tasting flight is at €22 for walk-in guests.");
  say(user, "Also, the tariff passes to €26 from the first of May, our rent is higher.");
  // A later change of something else, sharing a word of the question but no amount.
  say(user, "Marco leaves us at the end of the month; Giulia replaces him for the walk-in guests.");
  const auto text = recalled(user, "How much does a tasting flight cost now for walk-in guests?");
  EXPECT_NE(text.find("€26"), std::string::npos) << text;
  EXPECT_EQ(text.find("Giulia"), std::string::npos) << text;
  expect_only_as_history(text, "€22");
}

TEST_F(MemoryStore, ASwitchOrAShiftAnnouncesTheChangeOfWhatWasQuoted) {
  auto user = *db->ensure_user("dee");
  say(user, "My cousin helps me on weekends. I use Gtechniq products mostly.");
  say(user, "Can you write a short post about winter car care?");
  say(user, "Also switching from Gtechniq to Koch-Chemie, better margins and my supplier carries it.");
  const auto text = recalled(user, "which product brand am I using now?");
  EXPECT_NE(text.find("Koch-Chemie"), std::string::npos) << text;
  expect_only_as_history(text, "Gtechniq products mostly");
}

TEST_F(MemoryStore, AQuoteThatLeavesAnOldValueBehindIsShownAsTheChange) {
  auto user = *db->ensure_user("fer");
  say(user, "I have a taco truck, we're usually parked near the Pearl.");
  say(user, "Can you write a caption for our birria special?");
  say(user, "BIG NEWS we moved!! no more Pearl, we have a permanent spot at the Southtown food park.");
  const auto text = recalled(user, "where are we parked these days?");
  EXPECT_NE(text.find("Southtown"), std::string::npos) << text;
  expect_only_as_history(text, "Pearl");
}

TEST_F(MemoryStore, AChangeOfTheQuotedClausesThingIsFollowedEvenWhenTheQuestionNamesItOtherwise) {
  auto user = *db->ensure_user("mara");
  say(user, "Prices: fun dive ₱1,800, Open Water course ₱21,000, sardine run snorkel ₱600.");
  say(user, "Can you write a caption about the sardine run?");
  say(user, "Update: Open Water now ₱23,500, includes the eLearning fee.");
  say(user, "Also the fun dive goes to ₱2,000 next month.");
  const auto text = recalled(user, "OW course price now?");
  EXPECT_NE(text.find("23,500"), std::string::npos) << text;
  // The fun dive's change is another clause's thing: it answers nothing about the course.
  EXPECT_EQ(text.find("2,000"), std::string::npos) << text;
  expect_only_as_history(text, "21,000");
}

TEST_F(MemoryStore, SomeoneCoveringForAnInjuredColleagueIsAHandover) {
  auto user = *db->ensure_user("nadia");
  say(user, "My mother Khadija teaches the bread and msemen, I translate and do the tagines.");
  say(user, "Can you write a short post about our Saturday class?");
  say(user, "Khadija hurt her wrist so her sister Fatima is teaching bread for a few weeks.");
  const auto text = recalled(user, "Who is teaching bread at the moment?");
  EXPECT_NE(text.find("Fatima"), std::string::npos) << text;
  expect_only_as_history(text, "Khadija");
}

TEST_F(MemoryStore, AHandoverSaidWithAShortFormOfTheJobIsFollowed) {
  auto user = *db->ensure_user("lupe");
  say(user, "my team: Karla does nail art, Dani does pedis");
  say(user, "gel manicure is 350 pesos, pedicure spa 400. the studio in Chapultepec charges 700 for acrylic");
  say(user,
      "ay, Dani left for another salon in Zapopan but Fernanda is joining next week, she's amazing with "
      "pedis");
  const auto text = recalled(user, "who does pedicures at the studio now?");
  EXPECT_NE(text.find("Fernanda"), std::string::npos) << text;
}

TEST_F(MemoryStore, AnArrowedChangeIsShownAsAChange) {
  auto user = *db->ensure_user("ola");
  say(user, "prices: small dog full groom 120 zł, large dog 200 zł");
  say(user, "Can you write a post about winter coats for dogs?");
  say(user, "- small dog goes 120 → 130 zł from 1 April");
  const auto text = recalled(user, "small dog full groom - current price?");
  EXPECT_NE(text.find("130"), std::string::npos) << text;
  expect_only_as_history(text, "120");
}

TEST_F(MemoryStore, AChangeNamingTheOldValueIsFollowed) {
  auto user = *db->ensure_user("ana");
  say(user, "Our flagship pale ale, Harbour Mist, is brewed with kelp from Clew Bay.");
  say(user, "Can you draft a newsletter about the summer festival?");
  say(user, "We had to rename Harbour Mist because of a trademark letter. It's called Lantern Tide now.");
  const auto text = recalled(user, "What is the flagship pale ale called?");
  EXPECT_NE(text.find("Lantern Tide"), std::string::npos) << text;
}

TEST_F(MemoryStore, ASavedDateChangedInWordsTheExtractorMissedIsFollowed) {
  auto user = *db->ensure_user("ana");
  say(user, "We will launch the candle subscription on October 3rd.");
  ASSERT_FALSE(facts(user).empty());
  say(user, "Can you help me write an Instagram caption for the shop?");
  say(user,
      "The candle thing is confirmed, going live November 14th, not October 3rd, she needed more time.");
  const auto text = recalled(user, "When does the candle subscription launch?");
  EXPECT_NE(text.find("November 14"), std::string::npos) << text;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("October") != std::string::npos && line.find("November") == std::string::npos) {
      EXPECT_NE(line.find("Earlier"), std::string::npos) << text;
    }
  }
}

TEST_F(MemoryStore, AQuoteOfOnePriceLeavesOutAnotherSinceChanged) {
  auto user = *db->ensure_user("ana");
  say(user, "Our prices: a beard trim is €20, a full colour is €60.");
  say(user, "We raised the full colour to €70 because dye costs more.");
  const auto text = recalled(user, "How much is a beard trim?");
  EXPECT_NE(text.find("€20"), std::string::npos) << text;
  EXPECT_EQ(text.find("€60"), std::string::npos) << text;
}

TEST_F(MemoryStore, SomeoneHandingTheirJobOnIsFollowedToWhoDoesItNow) {
  auto user = *db->ensure_user("ana");
  say(user, "It's me and my apprentice Fionn on the van most days.");
  say(user, "Can you give me a tagline for the van?");
  say(user, "Fionn is off to Limerick to finish his training. Aoife Keane is starting with me Monday.");
  const auto text = recalled(user, "Who's my apprentice now?");
  EXPECT_NE(text.find("Aoife"), std::string::npos) << text;
  expect_only_as_history(text, "Fionn");
}

TEST_F(MemoryStore, AMessageBeforeTheChangeOfWhatItNamesIsQuotedAsEarlier) {
  auto user = *db->ensure_user("ana");
  say(user, "And the Christmas market in Olomouc — I have a stall from 27 November.");
  say(user, "Please help with a short 'about me' for Etsy.");
  say(user, "Actually no, the stall starts 29 November, the city changed the schedule.");
  const auto text = recalled(user, "christmas market start date?");
  EXPECT_NE(text.find("29 November"), std::string::npos) << text;
  expect_only_as_history(text, "27 November");
}

TEST_F(MemoryStore, AnArrivalSaidApartFromTheDepartureIsPartOfTheAnswer) {
  auto user = *db->ensure_user("ana");
  say(user, "Our driver is Marcus, he knows every back road.");
  say(user, "Marcus got a full time gig at the port, so he's out from Friday.");
  say(user, "Hired a guy named Luis, he starts Saturday.");
  const auto text = recalled(user, "Who's our driver now?");
  EXPECT_NE(text.find("Luis"), std::string::npos) << text;
  expect_only_as_history(text, "Marcus");
}

TEST_F(MemoryStore, APersonWhoHandedTheJobToAnotherIsNoLongerListed) {
  auto user = *db->ensure_user("ana");
  say(user, "My husband Kenji helps with the kiln firing on weekends.");
  say(user,
      "Kenji cannot help now, his office work is busy. My student Yui Tanaka will help me with the kiln.");
  const auto text = recalled(user, "Who helps me with the kiln now?");
  EXPECT_NE(text.find("Yui"), std::string::npos) << text;
  expect_only_as_history(text, "Kenji");
}

TEST_F(MemoryStore, ALaterChangeOfSomethingElseIsNotFollowed) {
  auto user = *db->ensure_user("ana");
  say(user, "Our open day is on 14 June at the workshop.");
  say(user, "We moved the weekly team call to Thursdays.");
  const auto text = recalled(user, "When is the open day?");
  EXPECT_NE(text.find("14 June"), std::string::npos) << text;
  EXPECT_EQ(text.find("Thursdays"), std::string::npos) << text;
}

TEST_F(MemoryStore, RecallFallsBackToTheUsersOwnWords) {
  auto user = *db->ensure_user("ana");
  say(user, "We park the food truck on Rainey Street on weekends.");
  say(user, "Tell me about brand archetypes.");
  const std::string question = "Remind me where I said we park the truck?";
  auto recalled = memory->recall(user.id, recall_request(question), question, 0);
  ASSERT_TRUE(recalled);
  ASSERT_FALSE(recalled->quotes.empty());
  EXPECT_NE(recalled->quotes[0].message.text.find("Rainey"), std::string::npos);
}

TEST_F(MemoryStore, SummaryRefreshesEveryNMessages) {
  auto user = *db->ensure_user("ana");
  for (int i = 0; i < 10; ++i)
    say(user, "Message number " + std::to_string(i) + " about our bakery in Leeds.");
  auto wrote = memory->refresh_summary(user.id, 10, 2);
  ASSERT_TRUE(wrote);
  EXPECT_TRUE(*wrote);
  auto summary = db->summary(user.id);
  ASSERT_TRUE(summary && *summary);
  EXPECT_EQ((*summary)->upto_seq, 8);
  EXPECT_NE((*summary)->text.find("Leeds"), std::string::npos);
  auto again = memory->refresh_summary(user.id, 11, 2);
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again);  // fewer than summary_every new messages
}

TEST_F(MemoryStore, ExportHoldsProfileHistoryThreadAndAudit) {
  auto user = *db->ensure_user("ana");
  say(user, "We're based in Leeds.");
  say(user, "Actually we relocated to York.");
  auto exported = memory->export_json(*db->ensure_user("ana"));
  ASSERT_TRUE(exported);
  const auto& profile = (*exported)["profile"]["personal"];
  ASSERT_EQ(profile.size(), 1u);
  EXPECT_EQ(profile[0]["value"], "York");
  ASSERT_EQ(profile[0]["history"].size(), 1u);
  EXPECT_EQ(profile[0]["history"][0]["value"], "Leeds");
  EXPECT_EQ((*exported)["thread"].size(), 2u);
  EXPECT_FALSE((*exported)["audit"].empty());
  const auto markdown = export_markdown(*exported);
  EXPECT_NE(markdown.find("earlier: Leeds"), std::string::npos);
  EXPECT_NE(markdown.find("relocated to York"), std::string::npos);
}

std::string file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST_F(MemoryStore, EraseLeavesNothingInTheDatabaseFiles) {
  auto gone = *db->ensure_user("gone");
  auto kept = *db->ensure_user("kept");
  say(gone, "Our secret recipe word is zanzibarquux and we're based in Quixotown.");
  say(kept, "We're based in Leeds.");
  ASSERT_TRUE(db->erase_user(gone.id, "test"));
  auto again = db->find_user("gone");
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again);
  auto hits = db->search_messages(kept.id, "zanzibarquux", 10);
  ASSERT_TRUE(hits);
  EXPECT_TRUE(hits->empty());
  db.reset();  // close, so every byte is in the files
  for (const auto* suffix : {"", "-wal", "-shm"}) {
    const auto bytes = file_bytes(dir.path() / (std::string("db.sqlite3") + suffix));
    EXPECT_EQ(bytes.find("zanzibarquux"), std::string::npos) << suffix;
    EXPECT_EQ(bytes.find("Quixotown"), std::string::npos) << suffix;
  }
  auto reopened = store::open_sqlite({(dir / "db.sqlite3").string(), 1, 5000});
  ASSERT_TRUE(reopened);
  auto leeds = (*reopened)->search_messages((*(*reopened)->find_user("kept"))->id, "Leeds", 10);
  ASSERT_TRUE(leeds);
  EXPECT_EQ(leeds->size(), 1u);
}

TEST(FactPlan, ARestatedGoalReplacesTheGoalWithItsMeasure) {
  const std::vector<store::Fact> current{active(1, "goals", "300 reviews by December"),
                                         active(2, "goals", "open a second shop")};
  const auto writes =
      plan_fact_writes(current, {{"goals", "350 reviews by December", 0.9, Cue::plain, 0}}, 9);
  ASSERT_EQ(writes.size(), 1u);
  ASSERT_EQ(writes[0].status_changes.size(), 1u);
  EXPECT_EQ(writes[0].status_changes[0].first, 1);
  ASSERT_TRUE(writes[0].insert.has_value());
  EXPECT_EQ(writes[0].insert->supersedes_id, 1);
  // A goal measured in something else stands beside it.
  const auto other = plan_fact_writes(current, {{"goals", "40 weddings", 0.9, Cue::plain, 0}}, 10);
  ASSERT_EQ(other.size(), 1u);
  EXPECT_TRUE(other[0].status_changes.empty());
}

}  // namespace
}  // namespace brandcoach::memory
