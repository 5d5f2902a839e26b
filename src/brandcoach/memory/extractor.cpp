// The offline fact extractor. Each rule is a trigger pattern (RE2: linear time, no backtracking,
// so a hostile message cannot make it slow) whose first capture is where the value starts; a value
// shape (money, date, count, phrase, list, name) then decides where it ends. Guards run per clause:
// a clause about someone else, a hypothetical or the past states no fact of the user's.
#include <algorithm>
#include <array>
#include <cctype>

#include <re2/re2.h>

#include "brandcoach/memory/memory.hpp"
#include "brandcoach/text/text.hpp"

namespace brandcoach::memory {

namespace {

enum class Shape { money, date, count, phrase, list, proper };

struct RuleSpec {
  const char* key;
  const char* pattern;  // group 1 captures the value (or where it starts)
  Shape shape;
  double confidence;
  Cue cue = Cue::plain;
  size_t max_words = 8;
  bool clause_guards = true;  // skip clauses about third parties, hypotheticals, the past
  // A price read from a list's shape alone ("full day £110") is only a price when it names its thing:
  // ", from KSh 400,000" names none.
  bool needs_item = false;
};

// Value shapes, spelled once.
// An amount: digits, or digits grouped in threes by spaces ("R7 200", "2 800 Kč") or dots ("1.500.000đ"),
// as many countries write them. A currency mark before it ("$85", "KSh 6,500") or after it ("65 €", "220
// zł"); a mark that is a symbol ends there, since a word boundary after a symbol wants a letter next ("65 €
// per hour").
// clang-format off
#define BC_AMOUNT "(?:\\d{1,3}(?: \\d{3})+\\b|\\d{1,3}(?:\\.\\d{3}){2,}|\\d[\\d,]*)(?:\\.\\d+)?(?:k|m)?"
// A currency code or name is a word of its own ("open 24 hours" holds no "pen 24").
#define BC_MARK_BEFORE                                                                                    \
  "(?i:(?:\\b(?:us|a|au|c|ca|nz|r|s|hk|nt|mx))?\\$|€|£|¥|₹|₦|₱|₩|₺|₽|₪|₫|₸|₴|(?:\\bgh)?₵|₲|₡|₮|৳|₨|₭|฿|" \
  "₼|₾|\\b(?:usd|eur|gbp|inr|rs\\.?|ngn|aud|chf|zar|kes|ksh\\.?|sek|nok|dkk|pln|aed|sar|egp|ghs|mxn|brl|"    \
  "php|myr|idr|thb|jpy|cny|rmb|hkd|sgd|nzd|cad|isk|czk|huf|rp\\.?|vnd|krw|twd|mad|cop|clp|ars|pen|s/|tl|dh|"  \
  "pkr|bdt|lkr|npr|etb|tzs|ugx|rwf|xof|uah|kzt|gel|ils|ron|bgn) ?|\\br)"
#define BC_MARK_AFTER                                                                                     \
  "(?:(?i:(?:dollars|bucks|euros?|pounds|quid|rupees|naira|reais|rand|pesos?|francs|shillings|yen|yuan|"   \
  "baht|ringgit|dirhams?|kr|sek|nok|dkk|kes|ksh|usd|eur|gbp|aud|cad|nzd|sgd|mxn|isk|czk|huf|tl|lira|dh|"  \
  "mad|egp|le|lei|ron|ft|vnd|dong|idr|rupiah|rp|krw|twd|pkr|bdt|lkr|npr|uah|rub|kzt|gel|ils|cop|clp|ars|" \
  "soles|xof|cfa|etb|tzs|ugx|rwf|ghs|cedis?|birr|kwacha|ngn|php|brl)\\b)|€|£|zł|kč|Kč|₺|₽|₴|₫|₸|đ|₵|₲|₡|" \
  "฿|৳|₨|₭|₮|₼|₾)"
// An amount in words, as said aloud: "twenty-two dollars", "fifteen quid".
#define BC_WORD_AMOUNT                                                                                   \
  "(?i:\\b(?:(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[- ](?:one|two|three|four|five|" \
  "six|seven|eight|nine))?|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|"        \
  "nineteen|a hundred|one hundred) (?:dollars|bucks|euros|pounds|quid|rand|francs)\\b)"
#define BC_MONEY                                                                            \
  "(" BC_MARK_BEFORE " ?" BC_AMOUNT "\\b(?: ?(?i:usd|eur|gbp|aud|inr|cad|mxn))?|" BC_AMOUNT \
  " ?" BC_MARK_AFTER "|" BC_WORD_AMOUNT ")"
// clang-format on
#define BC_MONTH                                                                                         \
  "(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|" \
  "oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
// A day of the month in digits or words ("21st", "the twenty-first").
#define BC_DAY                                                                                          \
  "(?:\\d{1,2}(?:st|nd|rd|th)?|(?:twenty|thirty)[- ]?(?:first|second|third|fourth|fifth|sixth|seventh|" \
  "eighth|ninth)|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|"    \
  "thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|thirtieth)"
// An optional weekday before a date ("fri 27 june", "Friday, 13 June"); not part of the value.
#define BC_WEEKDAY \
  "(?:(?:mon|tue|tues|wed|weds|thu|thur|thurs|fri|sat|sun)(?:day|nesday|sday|urday)?\\.?,? )?"
#define BC_DATE                                                                                       \
  BC_WEEKDAY "((?:the )?" BC_DAY "(?: ?(?:–|-|to) ?" BC_DAY ")? (?:of )?" BC_MONTH                    \
             "\\.?(?:,? \\d{4})?|" BC_MONTH "\\.? " BC_DAY                                            \
             "\\b(?:,? \\d{4})?|"                                                                     \
             "(?:early|mid|late|end of|the end of|beginning of|the start of|start of) ?-?" BC_MONTH   \
             "(?: \\d{4})?|" BC_MONTH                                                                 \
             " \\d{4}|\\d{4}-\\d{2}-\\d{2}|\\d{1,2}[/.]\\d{1,2}(?:[/.]\\d{2,4})?|q[1-4](?: \\d{4})?|" \
             "(?:this|next) (?:spring|summer|autumn|fall|winter|month|year|week|quarter)|"            \
             "(?:spring|summer|autumn|fall|winter) \\d{4}|the \\d{1,2}(?:st|nd|rd|th)\\b|" BC_MONTH "\\b)"
#define BC_COUNT \
  "(\\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty)"
#define BC_WE "(?:we|we're|we are|we've|we have|our|i|i'm|im|i am|i've|my|us)"
// A number of things counted, with at most one word between ("38 clients", "12 wholesale accounts").
#define BC_COUNTED                                                                                          \
  "(?:\\d{1,3}(?:,\\d{3})+|\\d+) (?:[a-z-]+ )?(?:clients|customers|members|subscribers|followers|students|" \
  "patients|stockists|retailers|accounts|orders|installs|installations|bookings|users|families|"            \
  "households|regulars|buyers|guests|couples|weddings|projects|contracts|listings|reviews|sales|"           \
  "deliveries|shipments|units|downloads|sign-?ups|memberships|subscriptions|pupils|learners|tenants|"       \
  "partners|venues|restaurants|cafes|cafés|shops|stores|outlets)\\b"

const RuleSpec kRules[] = {
    // Price of what the user sells.
    {"price",
     "(?i)\\b(?:price[ds]?|pricing|charg(?:e|es|ing)|cost(?:s|ing)?|fee|(?:sell(?:s|ing)?|sold)(?: "
     "\\w+){0,3} "
     "(?:for|at)|"
     "retail(?:s|ing)? (?:for|at)|go(?:es)? for|rate is|priced at|plans? (?:is|are|at|costs?|start)|"
     "subscription|membership|tier|per (?:month|session|class|hour))\\b[^.!?]{0,60}?" BC_MONEY,
     Shape::money, 0.85},
    {"price",
     "(?i)" BC_MONEY "(?: ?(?:/|per|a|an|each) ?(?:month|mo|year|yr|week|hour|hr|session|class|box|bag|unit|"
     "seat|user|person|piece|night|visit|lesson|bottle|pack|order|cake|loaf|candle|kg|treatment|groom|head|"
     "room|project|day|page|guest|plate|ticket|item|consultation|appointment|package|job|shoot|event))",
     Shape::money, 0.75},
    {"price",
     "(?i)\\b(?:up|down|raised|raising|raise|increase|increasing|bump|bumping|bumped|putting|put|lowering|"
     "lowered|dropping|dropped|drop|reduce|reducing|reduced|cut|cutting|moving|moved|change|changing|changed|"
     "going|goes|upping|upped|hiking|hiked|hike|shifting|shifted|jumping|jumps|jumped|rising|rises|rose|"
     "climbing|bringing|taking|went)"
     "(?: [\\w'-]+){0,4}? to " BC_MONEY,
     Shape::money, 0.85, Cue::correction},
    // An old and a new amount with an arrow: "small dog 120 → 130 zł", "$45->$49".
    {"price", "(?:\\d[\\d.,]*|\\p{Sc} ?\\d[\\d.,]*) ?(?:→|->|=>|➡️?) ?" BC_MONEY, Shape::money, 0.85,
     Cue::correction},
    // A list item of a thing and its amount: "- standard service €69", "standard service now €79".
    {"price",
     "(?i)(?:^ ?[-*•] ?|^ ?|[,:;] |\\band )(?:\\p{L}[\\p{L}'-]* ){0,3}\\p{L}[\\p{L}'-]* now " BC_MONEY,
     Shape::money, 0.85, Cue::correction},
    // "3 day expedition £495", "at night/weekends 139 €".
    {"price",
     "(?:^ ?[-*•] ?|^ ?|[,:;] |\\b(?i:and) )(?:[\\p{Ll}\\d][\\p{L}\\d/'-]* (?:[\\p{L}\\d][\\p{L}\\d/'-]* "
     "){0,4})?"
     "(?:\\p{Ll}[\\p{L}/'-]*|\\d+\\p{L}[\\p{L}\\d]*|(?:of|for) \\d+) " BC_MONEY,
     Shape::money, 0.7, Cue::plain, 8, true, true},
    // A sentence that is only a thing and its price: "Students R450."
    {"price", "^ ?\\p{Lu}\\p{Ll}+(?: [\\p{Ll}\\d][\\p{L}\\d/'-]*){0,3} " BC_MONEY "[.!]?$", Shape::money, 0.7,
     Cue::plain, 8, true, true},
    // ...or the first of a list of them: "Basic service 890 Kč, full service 1 650 Kč."
    {"price", "^ ?\\p{Lu}\\p{Ll}+(?: \\p{Ll}[\\p{L}/'-]*){1,3} " BC_MONEY "(?:;|, )", Shape::money, 0.7,
     Cue::plain, 8, true, true},
    // A label and its price: "Private charter for the whole boat: KSh 85,000".
    {"price", "(?i)(?:^ ?[-*•] ?|^ ?|[,;] )(?:[\\p{L}\\d][\\p{L}\\d/'-]* ){0,5}\\p{L}[\\p{L}'-]*: " BC_MONEY,
     Shape::money, 0.7, Cue::plain, 8, true, true},
    {"price", "(?i)\\b(?:is|are|at|costs?|=)(?: now| only| just)? " BC_MONEY, Shape::money, 0.65},
    // A new price said as what the thing becomes: "the cinnamon bun becomes €4.20", "will be US$520".
    {"price",
     "(?i)\\b(?:becomes|will become|will be|will cost|is going to be|are going to be|passes to|moves to)"
     "(?: only| just)? " BC_MONEY,
     Shape::money, 0.8, Cue::correction},
    // A named product and its price in a list: "Bestseller is Glow Butter, ₦8,500 for 250g".
    {"price", "\\b\\p{Lu}[\\p{L}\\w'&-]*(?: \\p{Lu}[\\p{L}\\w'&-]*){0,3}, " BC_MONEY, Shape::money, 0.7},
    // Budget.
    {"budget", "(?i)\\bbudget\\b[^.!?]{0,40}?" BC_MONEY, Shape::money, 0.9},
    {"budget",
     "(?i)\\b(?:we have|we've got|we got|i have|i've got|set aside|put aside|allocated|earmarked|"
     "can spend|can afford|saved up)(?: about| around| roughly| maybe| up to)? " BC_MONEY
     "(?: \\w+){0,2} (?:for|to spend on|on|towards)\\b",
     Shape::money, 0.85},
    {"budget",
     "(?i)" BC_MONEY "[^.!?]{0,25}\\b(?:budget|to spend|for marketing|on marketing|for ads|on ads)\\b",
     Shape::money, 0.85},
    {"budget",
     "(?i)\\b(?:spend|spending|set aside|allocated?|invest(?:ing)?)\\b[^.!?]{0,25}?" BC_MONEY
     "[^.!?]{0,30}\\b(?:marketing|ads|advertising|brand|branding|campaign|a month|per month|monthly|quarter)",
     Shape::money, 0.75},
    // Team size.
    {"team_size", "(?i)\\bteam of " BC_COUNT "\\b", Shape::count, 0.9},
    // Not part of an amount: "$5,000 total" counts no people.
    {"team_size",
     "(?i)(?:^|[^\\w,.$€£¥₹₦₱])" BC_COUNT
     " (?:(?:full[- ]time|part[- ]time|permanent) )?(?:people|employees|staff|"
     "person team|people team|team members|members of staff|of us|staffers|workers|"
     "stylists|groomers|bakers|developers|devs|engineers|consultants|instructors|teachers|baristas|"
     "chefs|plumbers|accountants|designers|techs|technicians|tutors|guys|crew|hands|coaches|trainers|"
     "therapists|nurses|drivers|cooks|servers|sales ?people|reps|contractors|freelancers|"
     "people total|in total|total|all told|including me|incl\\.? me)\\b",
     Shape::count, 0.8},
    {"team_size", "(?i)\\b(?:headcount|team size)(?: is| of|:|'s)? (?:now |about |around )?" BC_COUNT "\\b",
     Shape::count, 0.9},
    {"team_size", "(?i)\\b(?:grown|grew|expanded|gone up|went up|down|shrunk) to " BC_COUNT "\\b",
     Shape::count, 0.9, Cue::correction},
    {"team_size", "(?i)\\b(?:we're|we are|there are|there's) " BC_COUNT " of us\\b", Shape::count, 0.9},
    {"team_size",
     "(?i)\\b(?:we're|we are|were|we're now|we are now) " BC_COUNT " (?:now|people|strong|in total|total)\\b",
     Shape::count, 0.85},
    // The count ends the clause: "so we are now two.", "we're down to 4".
    {"team_size",
     "(?i)\\b(?:we're|we are)(?: now| down to| back to| up to| now down to| now up to)? " BC_COUNT
     "(?: of us)?(?: now)?\\s*(?:[.!,;)]|$)",
     Shape::count, 0.85},
    {"team_size", "(?i)\\bteam(?: size)? (?:is|are|'s)(?: now)? " BC_COUNT "\\b", Shape::count, 0.85},
    {"team_size",
     "(?i)\\b(just me|only me|me, myself and i|solo founder|one-person|one person business|a one-woman|"
     "a one-man|a team of one)\\b",
     Shape::phrase, 0.8, Cue::plain, 4},
    // How many of something the business has or has done, by what is counted: "We have 38 clients right
    // now", "we're at 44 clients", "we are at 64 installs so far this year". A number the user wants is a
    // goal (the goal rules), a number of people working here is the team.
    {"counts",
     "(?i)\\b(?:we|i)(?:'re| are|'m| am)?(?: now| currently)? (?:at|up to|on|serving|working with) "
     "(?:about |around |over |nearly |almost |roughly |just over |just under )?(" BC_COUNTED ")",
     Shape::count, 0.85},
    {"counts",
     "(?i)\\b(?:we|i)(?:'ve| have)? (?:now )?(?:have|had|got|have got|serve|count|did|done|sold|shipped|"
     "completed|finished|signed|booked|hit|reached|crossed|passed) "
     "(?:about |around |over |nearly |almost |roughly |just over |just under )?(" BC_COUNTED ")",
     Shape::count, 0.85},
    // A new count said on its own: "Now 1,410 followers", "up to 52 members".
    {"counts", "(?i)(?:^ ?|[,;:] ?|\\b(?:and|so|but) )(?:now|currently|up to|down to) (" BC_COUNTED ")",
     Shape::count, 0.85, Cue::correction},
    // "Pupil numbers have risen to 27", "client count went up to 44": the thing counted comes first.
    {"counts",
     "(?i)\\b(\\p{L}+ (?:numbers?|count) (?:have |has |had )?(?:now )?(?:risen|rose|grown|grew|gone up|went "
     "up|climbed|jumped|dropped|fallen|fell|gone down|went down|increased|decreased|reached|hit|is|are)"
     "(?: now)?(?: to| at)? (?:\\d{1,3}(?:,\\d{3})+|\\d+))\\b",
     Shape::count, 0.85, Cue::correction},
    // Launch date.
    {"launch_date",
     "(?i)\\b(?:launch\\w*|go(?:ing|es)? live|go-live|open(?:ing|s)?(?: day)?|release\\w*|debut\\w*|"
     "kick(?:ing)? off|start(?:ing)? selling|grand opening|ship(?:ping)?)\\b[^.!?]{0,45}?\\b" BC_DATE,
     Shape::date, 0.85},
    {"launch_date",
     "(?i)\\b(?:pushed|moved|postponed|delayed|slipped|slipping|rescheduled|bumped|shifted|brought "
     "forward|pulled forward)(?: \\w+){0,3}? (?:to|until|till|for) " BC_DATE,
     Shape::date, 0.85, Cue::correction},
    {"launch_date",
     "(?i)\\b(?:new date|new launch date|launch date|go-live date|opening date|release date)"
     "(?: is| set| now)?:? " BC_DATE,
     Shape::date, 0.9},
    {"launch_date",
     "(?i)\\b(?:now|instead) (?:starting|start|launching|opening|going live|kicking off|happening|on)"
     "(?: on| in)? " BC_DATE,
     Shape::date, 0.85, Cue::correction},
    // Dated events other than the launch: "the gala is on October 12", "teacher training begins Sept 9".
    {"events",
     "(?i)\\b(?:is|are|will be|starts?|starting|begins?|beginning|happens?|happening|kicks? off|scheduled|"
     "set|planned|takes place|runs?|due|booked)(?: now| still)?(?: for| on| in| from)? " BC_DATE,
     Shape::date, 0.8},
    {"events",
     "(?i)\\b(?:shifted|moved|pushed|rescheduled|changed|postponed|brought forward)(?: back| forward| out)? "
     "(?:to|until|till) " BC_DATE,
     Shape::date, 0.85, Cue::correction},
    // Location.
    {"location", "(?i)\\b(?:based|located|headquartered|situated)(?: \\w+)? (?:in|out of) ([^.!?;]+)",
     Shape::proper, 0.9, Cue::plain, 4},
    // "relocated from Nørrebro to a former grain warehouse in Aarhus".
    {"location",
     "(?i:\\b(?:relocated|moved|moving|relocating)(?: [\\p{L}\\w'-]+){0,3} to "
     "(?:a |an |the |our )?(?:[\\p{L}-]+ ){0,4}?in )(\\p{Lu}[^.!?;,]*)",
     Shape::proper, 0.9, Cue::correction, 4, false},
    {"location", "(?i)\\b(?:relocated|moved|moving|relocating)(?: [\\p{L}\\w'-]+){0,2} to ([^.!?;]+)",
     Shape::proper, 0.9, Cue::correction, 4},
    {"location",
     "(?i)\\b(?:i live|we live|i'm|im|i am|we're|we are|i work|we work|operate|operating|our "
     "(?:shop|studio|office|store|salon|bakery|cafe|clinic|gym|workshop) is) (?:\\w+ )?(?:in|out of) "
     "([^.!?;]+)",
     Shape::proper, 0.7, Cue::plain, 4},
    {"location", "(?i)\\b(?:i'm|im|i am|we're|we are) from ([^.!?;]+)", Shape::proper, 0.5, Cue::plain, 3},
    {"location",
     "(?i)\\b(?:business|bizness|biz|company|shop|studio|practice|firm|brewery|bakery|store|salon|clinic|"
     "agency|startup|truck|cafe|gym|office|workshop|cooperative|co-op|collective|restaurant|kitchen|farm|"
     "stall|cart|boutique|atelier|school|service|hostel|guesthouse|co\\.?)(?: \\w+)? (?:in|out of|based in) "
     "([^.!?;]+)",
     Shape::proper, 0.75, Cue::plain, 4},
    // "i run kerr heating in broughty ferry", "i hand-dye yarn in my shed in portree on skye": where the
    // owner runs the business, in lower case too.
    {"location",
     "(?i)\\b(?:i|we) (?:run|own|have|started|make|do|sell|bake|roast|brew|dye|hand-dye|grow|teach|fix|build)"
     "(?: [\\w'&-]+){1,4}? in (?:(?:my|our|a|the) [\\w'-]+ (?:in|on|at|near) )?([^.!?;,]+)",
     Shape::proper, 0.7, Cue::plain, 3},
    // "Utrecht, Lombok neighbourhood", "in birmingham, sparkhill area".
    {"location",
     "\\b(\\p{Lu}[\\p{L}'-]+(?: \\p{Lu}[\\p{L}'-]+)?) (?i:neighbourhood|neighborhood|quarter|barrio)\\b",
     Shape::proper, 0.75, Cue::plain, 3},
    {"location",
     "(?i)\\bin [\\p{L}-]+, ([\\p{L}'-]+(?: [\\p{L}'-]+)?) "
     "(?:area|neighbourhood|neighborhood|district|suburb)\\b",
     Shape::proper, 0.75, Cue::plain, 3},
    {"location", "\\b(\\p{Lu}[\\p{L}\\w'-]+(?: \\p{Lu}[\\p{L}\\w'-]+)?)-based\\b", Shape::proper, 0.8,
     Cue::plain, 3},
    // The places served, named two or more at a time: "homes mostly in Scottsdale and Tempe".
    {"areas",
     "\\b(?i:in|across|around|throughout|all over|covering|cover|serving|serve|deliver to|delivering to)"
     "(?: the)? ((?:\\p{Lu}[\\p{L}\\w'-]+(?: \\p{Lu}[\\p{L}\\w'-]+)?)(?:, \\p{Lu}[\\p{L}\\w'-]+(?: "
     "\\p{Lu}[\\p{L}\\w'-]+)?)*,? (?:and|&|or) "
     "\\p{Lu}[\\p{L}\\w'-]+(?: \\p{Lu}[\\p{L}\\w'-]+)?)",
     Shape::list, 0.8, Cue::plain, 10},
    // Company name.
    {"company",
     "(?i)\\b(?:my|our) (?:\\w+ ){0,2}(?:company|business|shop|brand|studio|startup|start-up|bakery|firm|"
     "agency|store|salon|practice|cafe|café|restaurant|brewery|label|venture|clinic|gym|boutique|app|truck|"
     "product|platform|service|consultancy|charity|nonprofit|non-profit|organi[sz]ation)(?: name)? "
     "(?:is |was |will be )?(?:called|named) ([^.!?;]+)",
     Shape::proper, 0.9, Cue::plain, 5},
    {"company",
     "(?i)\\b(?:i|we) (?:run|own|have|started|founded|co-founded|opened|launched|manage) "
     "(?:a|an|my|our|this) "
     "(?:[\\w-]+ ){0,4}(?:called|named) ([^.!?;]+)",
     Shape::proper, 0.9, Cue::plain, 5},
    {"company", "(?i)\\b(?:we're|we are|it's|its|we'll be|we will be) (?:called|named|trading as) ([^.!?;]+)",
     Shape::proper, 0.85, Cue::plain, 5},
    // The new name is capitalised, quoted or more than one word: "a new name easy for foreigners to
    // say" names nothing.
    {"company",
     "\\b(?i:renamed|rebranded|rebranding|renaming|changed (?:our|the|my) (?:business |company |shop "
     "|brand |firm )?"
     "name|changing (?:our|the|my) name|(?:will|we'll|going to) trade|trading going forward|new name)"
     "(?: \\w+){0,4}? (?i:to|as|is|will be|:) (['\"‘“]?\\p{Lu}[^.!?;]*|[^.!?;\\s]+ [^.!?;]+)",
     Shape::proper, 0.95, Cue::correction, 5},
    // "New name: Nồi Nhà".
    {"company", "(?i)\\bnew (?:business |company |brand |shop )?name ?[:=] ?([^.!?;]+)", Shape::proper, 0.95,
     Cue::correction, 5},
    {"company",
     "\\b(?i:we're|we are|it's now|its now|we're now|we are now) (\\p{Lu}[\\p{L}\\w&'-]+(?: "
     "\\p{Lu}[\\p{L}\\w&'-]+){0,2}) "
     "(?i:now)\\b",
     Shape::proper, 0.85, Cue::correction, 4, false},
    // "I am the founding CPA of Ledgerlight Accounting", "co-own Tidewrack Brewing".
    {"company",
     "\\b(?i:(?:i'm|i am|im) (?:the |a )?(?:[\\w-]+ "
     "){0,2}(?:founder|co-?founder|owner|co-?owner|ceo|director|"
     "principal|cpa|partner|head|manager|chef|baker)s? (?:of|at)) (\\p{Lu}[\\p{L}\\w&'-]*(?: "
     "(?:&|and|of|\\p{Lu}[\\p{L}\\w&'-]*)){0,4})",
     Shape::proper, 0.85, Cue::plain, 5, false},
    {"company",
     "\\b(?i:co-?own|we own|i own) (\\p{Lu}[\\p{L}\\w&'-]*(?: (?:&|and|\\p{Lu}[\\p{L}\\w&'-]*)){1,4})",
     Shape::proper, 0.8, Cue::plain, 5, false},
    {"company",
     "(?i)\\b(?:my|our) (?:company|business|shop|brand|studio|startup|firm|agency|store|salon|practice) "
     "name is ([^.!?;]+)",
     Shape::proper, 0.9, Cue::plain, 5},
    // Renames said without the word "rename": "the firm becomes Mokoena & Co", "the name has become
    // …", "it's 'Suds & Snouts' now", "not Splitzy anymore, its Halvsies".
    {"company",
     "\\b(?i:becomes|has become|have become|became|is now called|are now called|now called|now known as|"
     "(?:will|'ll) be (?:called|known as)|going forward (?:is|will be)) ['\"‘“]?(\\p{Lu}[^.!?;]+)",
     Shape::proper, 0.9, Cue::correction, 5, false},
    {"company", "\\b(?i:it's|its|it is|we're|we are) ['\"‘“](\\p{Lu}[^'\"’”.!?;]+)['\"’”] (?i:now)\\b",
     Shape::proper, 0.9, Cue::correction, 5, false},
    {"company",
     "\\b(?i:not|no longer) [\\w'& -]{1,40}? ?(?i:any ?more|now),? (?i:it's|its|it is|we're|we are|now it's|"
     "it's now|now) ['\"‘“]?(\\p{Lu}[^.!?;,]+)",
     Shape::proper, 0.9, Cue::correction, 5, false},
    {"company", "\\b(?i:(?:i|we) (?:run|own|founded|started|co-founded|manage)) (\\p{Lu}[^.!?;]+)",
     Shape::proper, 0.7, Cue::plain, 5, true},
    {"company",
     "\\b(?i:(?:founder|co-founder|cofounder|owner|ceo|managing partner|partner|director|md|head) (?:of|at)) "
     "(\\p{Lu}[^.!?;]+)",
     Shape::proper, 0.8, Cue::plain, 5, false},
    // Role.
    {"role",
     "(?i)\\b(?:i'm|im|i am|i work as|my role is|my title is|as) (?:the |an? )?((?:co-?founder|founder|owner|"
     "ceo|cto|coo|cmo|managing director|director|head of \\w+|marketing manager|manager|"
     "sole trader|president|partner|lead \\w+|chief \\w+ officer)(?:(?: and| &|,|/) (?:co-?founder|founder|"
     "owner|ceo|head \\w+|lead \\w+|director))?)\\b",
     Shape::phrase, 0.85, Cue::plain, 6, false},
    // Industry.
    {"industry",
     "(?i)\\b(?:in|work in|operate in) the ([\\w -]{3,40}?) (?:industry|sector|space|market|niche|trade)\\b",
     Shape::phrase, 0.85, Cue::plain, 5},
    {"industry",
     "(?i)\\b(?:we're|we are|i'm|im|i am|i run|we run|i own|we own|it's|it is)(?: just)? (?:an?|one) "
     "(?:small |tiny |little |local |new |independent |family-run |family )?((?:[\\w-]+ ){0,3}[\\w-]+?) "
     "(?:company|business|startup|brand|agency|studio|shop|firm|practice|consultancy|service|"
     "brewery|bakery|salon|label|cafe|store|clinic|app)\\b",
     Shape::phrase, 0.7, Cue::plain, 4},
    // Target market.
    {"target_market",
     "(?i)\\b(?:target|ideal|main|core|typical|primary|key)(?: \\w+)? (?:customers?|clients?|"
     "audiences?|markets?|buyers?|users?|demographic|persona)(?:\\s*:| (?:is|are|would be|will be))"
     "(?: mostly| mainly| probably)? ([^.!?;]+)",
     Shape::phrase, 0.85, Cue::plain, 12},
    {"target_market",
     "(?i)\\b(?:we sell to|we serve|we cater to|i sell to|i serve|selling to|aimed at|targeting|"
     "we target|i target|our customers are|my customers are|our clients are|my clients are|"
     "our audience is|my audience is|we're for|it's for|built for|designed for)(?: mostly| mainly)? "
     "([^.!?;]+)",
     Shape::phrase, 0.8, Cue::plain, 12},
    {"target_market",
     "(?i)\\b(?:who (?:i|we) serve|who (?:i|we) sell to|who (?:i|we) work with|my clients|our clients|"
     "my customers|our customers)\\s*: ?([^.!?;]+)",
     Shape::phrase, 0.85, Cue::plain, 12},
    // "Customers: corporate teams, …", "The customer I'm building for is working women 28 to 45".
    {"target_market", "(?i)^\\s*(?:customers|clients|audience|buyers)\\s*:\\s*([^.!?;]+)", Shape::phrase, 0.8,
     Cue::plain, 12},
    {"target_market",
     "(?i)\\b(?:customers?|clients?|audience|buyers?) (?:i'm|i am|im|we're|we are|i|we)(?: \\w+){1,2}? "
     "(?:for|to|at) (?:is|are) ([^.!?;]+)",
     Shape::phrase, 0.8, Cue::plain, 12},
    {"target_market",
     "(?i)\\b(?:i|we) (?:mainly |mostly |only |now |really )?(?:work with|help|coach|teach|train|"
     "cater to|focus on|specialise in|specialize in|sell mostly to|work mostly with) ([^.!?;]+)",
     Shape::phrase, 0.7, Cue::plain, 12},
    // Competitors.
    {"competitors",
     "(?i)\\b(?:competitors?|competition|comps|rivals?|competitive set|comp set|competitive landscape)(?:,? "
     "\\w+){0,8}?(?: (?:are|is|include|would be|will be|was|were|"
     "i'm looking at|we're looking at|i am looking at|we are looking at)|:):?(?: mainly| mostly| probably| "
     "really)? ?"
     "([^.!?;]+)",
     Shape::list, 0.85, Cue::plain, 10, false},
    {"competitors",
     "(?i)\\b(?:compete|competing|up against|going up against|go up against|fighting|competes)"
     "(?: directly| mainly| mostly| most)? (?:with|against)? ?([^.!?;]+)",
     Shape::list, 0.8, Cue::plain, 10, false},
    {"competitors",
     "(?i)\\b(?:new|another|a new|also a) (?:competitor|rival)(?: \\w+){0,2} (?:is|called|named|:) "
     "([^.!?;]+)",
     Shape::list, 0.85, Cue::plain, 6, false},
    {"competitors",
     "(\\p{Lu}[\\p{L}\\w'&.-]*(?: \\p{Lu}[\\p{L}\\w'&.-]*){0,3}) (?i:(?:is|are) (?:our|my) (?:\\w+ )?(?:main "
     "|biggest |"
     "closest |direct |only )?(?:competitors?|rivals?|competition))\\b",
     Shape::list, 0.85, Cue::plain, 4, false},
    // Another business named beside a price it asks ("Fietsdokter Noord ask €55 for the same"): a name of
    // two or more capitalised words, so that a sentence's first word is no business.
    {"competitors",
     "(\\p{Lu}[\\p{L}\\p{N}'&-]*(?: (?:&|and|de|du|la|le|of|the) ?)?(?: \\p{Lu}[\\p{L}\\p{N}'&-]*){1,3}) "
     // "Restaura MX in Roma Norte charges like MX$2,500": the place between is not the name.
     "(?:(?i:in|on|at|near|from) \\p{Lu}[\\p{L}'-]*(?: \\p{Lu}[\\p{L}'-]*){0,2} )?"
     // "Saigon Sweets down the road does a similar one for $7".
     "(?:(?i:down the road|up the road|nearby|next door|across the (?:street|road)|around the corner|in town|"
     "\\d+ (?:streets|doors|blocks) (?:away|down)) )?"
     "(?i:asks?|charges?|charging|sells?|does|offers?|wants?|gets?|is|are)(?: \\w+){0,4}? " BC_MONEY,
     Shape::list, 0.75, Cue::plain, 5, false},
    // "At CitéKiné, near Bellecour, they ask €60."
    {"competitors",
     "(?i:\\bat) (\\p{Lu}[\\p{L}\\p{N}'&-]*(?: \\p{Lu}[\\p{L}\\p{N}'&-]*){0,3}),?(?: [^,.!?;]{1,40},)? "
     "(?i:they|prices|the price) (?i:ask|charge|are|sell|want|get)(?: \\w+){0,3}? " BC_MONEY,
     Shape::list, 0.75, Cue::plain, 5, false},
    // "Nearest other clinic now is Southside Animal Hospital", "the big studio near us is Kiyomizu".
    {"competitors",
     "(?i:\\b(?:nearest|closest|biggest|main|other|another|big|local) (?:other )?(?:\\w+ "
     ")?(?:clinic|studio|shop|"
     "store|bakery|caf[eé]|salon|gym|agency|firm|practice|school|chain|brand|company|business|restaurant|"
     "hotel|venue|player|competitor|roastery|roaster|brewery|outfit|operator)s?(?: now| nearby| near us| "
     "around here| in town)? (?:is|are|would be)) (\\p{Lu}[\\p{L}\\p{N}'&-]*(?: (?:&|and|of) )?(?: "
     "?\\p{Lu}[\\p{L}\\p{N}'&-]*){0,3})",
     Shape::list, 0.75, Cue::plain, 5, false},
    // "Near us, Kiyomizu Clay Works is big studio."
    {"competitors",
     "(?i:\\b(?:near us|near me|nearby|down the road|across the street|around the corner|next door)),? "
     "(\\p{Lu}[\\p{L}\\p{N}'&-]*(?: \\p{Lu}[\\p{L}\\p{N}'&-]*){1,3}) (?i:is|are|has|have|does|do|opened|"
     "charges?|sells?)\\b",
     Shape::list, 0.75, Cue::plain, 5, false},
    // Brand values, personality, USP.
    {"values",
     "(?i)\\b(?:core |brand |company |our |my )values?(?: \\w+){0,3}?(?: (?:are|is|include|would be|"
     "i'd say|we'd say|i would say)|:):?(?: basically)? ?([^.!?;]+)",
     Shape::list, 0.85, Cue::plain, 12, false},
    {"values", "(?i)\\bwe (?:value|stand for|believe in) ([^.!?;]+)", Shape::list, 0.75, Cue::plain, 10,
     false},
    {"personality",
     "(?i)\\b(?:brand )?(?:personality|tone|voice|vibe)(?: \\w+){0,2}?(?: (?:is|are|should be|would be|"
     "feels)|:):?(?: like)? ?([^.!?;]+)",
     Shape::list, 0.8, Cue::plain, 10, false},
    // "Brand words: sharp, warm, no-nonsense", "vibe words for the brand: loud, family, proud",
    // "Brand words I like: calm, honest, sea."
    {"personality",
     "(?i)\\b(?:(?:brand|vibe|personality|tone|key) (?:key ?)?words|brand adjectives|"
     "words (?:for|to describe|that describe) (?:the|our|my) (?:brand|business|shop|company))"
     "(?: for (?:the|our|my) (?:brand|business|shop|company))?(?: (?:i|we) "
     "(?:think|like|love|chose|picked|want|settled on|landed on|went with|came up with))?(?: (?:are|would be|"
     "will be))?\\s*[:,-]?\\s*([^.!?;]+)",
     Shape::list, 0.8, Cue::plain, 10, false},
    {"personality", "(?i)\\b(?:known for|known as|remembered for)(?: being| is)? ([^.!?;]+)", Shape::list,
     0.75, Cue::plain, 10, false},
    {"personality",
     "(?i)\\b(?:our whole thing is|we're all about|we are all about|our vibe is|our brand is|"
     "the brand should feel|we want to come across as|we want to feel|brand words are|three words are|"
     "described as)(?: basically)? ([^.!?;]+)",
     Shape::list, 0.75, Cue::plain, 10, false},
    {"usp",
     "(?i)\\b(?:what makes (?:us|me|our \\w+|it) (?:different|unique|special|stand out)|(?:our|my) "
     "(?:usp|unique selling (?:point|proposition)|differentiator|edge|secret sauce|x factor)|what sets us "
     "apart|the thing that sets us apart|our point of difference|our difference)(?: is|:|,)(?: that)? "
     "([^.!?;]+)",
     Shape::phrase, 0.9, Cue::plain, 20, false},
    {"usp", "(?i)\\b(?:unlike (?:other|most|the other|our)[^,]{0,40}, (?:we|i) )([^.!?;]+)", Shape::phrase,
     0.75, Cue::plain, 20, false},
    {"usp", "(?i)\\b(?:we're|we are|i'm|i am) the only (?:one|ones|\\w+)? ?(?:that|who|in|to) ([^.!?;]+)",
     Shape::phrase, 0.8, Cue::plain, 20, false},
    // Preferences.
    {"communication_style",
     "(?i)\\b((?:keep|make) (?:it|answers|things|replies|your answers|responses)(?: \\w+)? "
     "(?:short|brief|concise|simple|practical|casual|detailed)[^.!?;]{0,30})",
     Shape::phrase, 0.9, Cue::plain, 10, false},
    {"communication_style",
     "(?i)\\bi (?:prefer|like|want|love|need|learn best with) ((?:short|brief|concise|"
     "bullet|bulleted|step-by-step|detailed|long|plain|simple|direct|practical|quick|"
     "numbered|lots of|concrete|real|actionable)[^.!?;]{0,40})",
     Shape::phrase, 0.85, Cue::plain, 10, false},
    {"communication_style",
     "(?i)\\b((?:please )?(?:no jargon|no fluff|be (?:direct|blunt|brief|concise|honest)|"
     "bullet points(?: please)?|skip the (?:theory|fluff)|straight to the point))",
     Shape::phrase, 0.85, Cue::plain, 8, false},
    {"communication_style",
     "(?i)\\b((?:use|give me|send me|write in|answer in|reply in|format (?:it |them |everything )?as|keep to|"
     "stick to) (?:numbered|bullet|bulleted|short|step[- ]by[- ]step|tables?|plain|simple|one-page|concise|"
     "simple)[^.!?;]{0,40})",
     Shape::phrase, 0.8, Cue::plain, 10, false},
    {"priorities",
     "(?i)\\b(?:top |main |number one |first |biggest )?priority(?: right now| this \\w+)?"
     "(?: is|:) ([^.!?;]+)",
     Shape::phrase, 0.8, Cue::plain, 12, false},
    // Goals and challenges.
    // A goal moved: "raise the goal to 400", "Christmas goal we raise to 700 boxes", "target I raise to 35".
    {"goals",
     "(?i)\\b(?:rais|bump|up|upp|increas|lift|push|lower|cut|drop|dropp|chang|mov|adjust|revis)(?:e|es|ed|"
     "ing|s)?"
     "(?: \\w+){0,2}? (?:goal|target|aim)s?(?: \\w+)? (?:to|up to|down to) (\\d(?:[^.!?;]|\\.\\d)*)",
     Shape::phrase, 0.9, Cue::correction, 10, false},
    {"goals",
     "(?i)\\b(?:goal|target|aim)s?(?: \\w+){0,3}? (?:rais|bump|up|upp|increas|lift|push|lower|cut|drop|dropp|"
     "chang|mov|adjust|revis)(?:e|es|ed|ing|s)? (?:it |that )?(?:to|up to|down to) (\\d(?:[^.!?;]|\\.\\d)*)",
     Shape::phrase, 0.9, Cue::correction, 10, false},
    {"goals",
     "(?i)\\b(?:goal|aim|objective|target|ambition|dream)s?(?: (?:for|this|next|in|by) [\\w' ]{1,20}?)?"
     "(?: is| are| ?:)(?: to)? ((?:[^.!?;]|\\.\\d)+)",
     Shape::phrase, 0.85, Cue::plain, 16, false},
    {"goals",
     "(?i)\\b(?:we want to|i want to|we'd love to|i'd love to|we're aiming to|we aim to|i aim to|hoping to|"
     "we hope to|i hope to|trying to get to|we need to reach|we're hoping to|i'm hoping to|we are hoping to) "
     "((?:hit|reach|get|grow|double|triple|sell|open|become|be|build|make|land|sign|win|expand|raise|earn|"
     "generate|save|serve)[^.!?;]+)",
     Shape::phrase, 0.7, Cue::plain, 14, false},
    // A goal written as a note: "goal 2.000 jars this year", "target 25 groups".
    {"goals",
     "(?i)\\b(?:goal|target)s? ((?:\\d{1,3}(?:[.,]\\d{3})+|\\d+) \\p{L}[\\p{L}'-]+(?: [^.!?;,]{1,30})?)",
     Shape::phrase, 0.8, Cue::plain, 8, false},
    // An amount to reach: "goal is $5,000 a month by Christmas", "bumping my goal to $6,000 a month".
    {"goals",
     "(?i)\\b(?:goal|target|aim)s?(?: \\w+){0,2}? (?:to|is|of|:) ((?:[$€£¥₹]|[a-z]{3} ?)\\d[\\d,.]*k?"
     "(?: ?(?:a|per|each|/) ?(?:month|mo|year|yr|week|day))?(?: (?:by|before|in|this|for) [^.!?;,]{1,30})?)",
     Shape::phrase, 0.85, Cue::plain, 10, false},
    // A number to get to, the thing counted said before: "I'd like to get to 60 by end of next year".
    {"goals",
     "(?i)\\b(?:i'd like|we'd like|i want|we want|i hope|we hope|hoping|aiming|we aim|i aim|the plan is|"
     "planning) to (?:get|grow|reach|hit|be)(?: to| at)? ((?:\\d{1,3}(?:,\\d{3})+|\\d+)(?: (?:by|before|in|"
     "within) [^.!?;,]{1,30})?)(?:[.!?;,]| without| and|$)",
     Shape::phrase, 0.75, Cue::plain, 8, false},
    // "wanna hit 150 boiler installs this year", "trying to sell 500 kits by June".
    {"goals",
     "(?i)\\b(?:wanna|want to|wants to|gonna|going to|aim to|aiming to|trying to|hope to|hoping to|plan to|"
     "planning to) (?:hit|reach|do|sell|book|sign|land|serve|make) ((?:\\d{1,3}(?:,\\d{3})+|\\d+)\\+? "
     "(?:[\\p{Ll}-]+ ){0,2}[\\p{Ll}-]+s(?: (?:by|this|next|in|before|within) [^.!?;,]{1,30})?)",
     Shape::phrase, 0.8, Cue::plain, 10, false},
    // A number of something to win: "want 40 bookings", "aiming for 150 subscribers by May".
    {"goals",
     "(?i)\\b(?:want|wanting|aiming for|aim for|hoping for|shooting for|going for|targeting|need|goal ?:|"
     "target ?:|goal to|target to)"
     "(?: to (?:get|hit|reach|sell|book|sign|land|have|do))?(?: about| around| at least| roughly)? "
     "((?:\\d[\\d,.]*\\d\\+?|\\d\\+?|ten|twenty|thirty|forty|fifty|a hundred|hundred) (?:[a-z-]+ "
     ")?(?:bookings|clients|"
     "customers|members|subscribers|followers|sales|orders|students|accounts|weddings|boxes|covers|tickets|"
     "sign-?ups|leads|downloads|units|stores|locations|reviews|deliveries|patients|appointments|guests|"
     "attendees|users|memberships|subscriptions|enquiries|inquiries|listings|bottles|cases|classes|"
     "events|projects|jobs|contracts|stockists|retailers|outlets|pre-?orders|donors|volunteers|families|"
     "households|regulars|tables|seats|couples|kids|pupils|learners|trainees|homes|properties)\\b"
     "(?: (?:by|before|in|this|for|per|a|each) [^.!?;,]{1,30})?)",
     Shape::phrase, 0.75, Cue::plain, 12, false},
    {"challenges",
     "(?i)\\b(?:biggest |main |real |key |major |current )?(?:challenge|problem|issue|struggle|"
     "headache|pain point|bottleneck|weakness)(?:s)?(?: right now| at the moment)? (?:is|are|:)"
     "(?: that)? ([^.!?;]+)",
     Shape::phrase, 0.85, Cue::plain, 16, false},
    {"challenges",
     "(?i)\\b(?:we|i) (?:struggle|are struggling|am struggling|'re struggling|keep struggling|"
     "have trouble|can't seem|cannot seem|find it hard) (?:with |to )?([^.!?;]+)",
     Shape::phrase, 0.8, Cue::plain, 16, false},
    // Decisions, rejected options, plans.
    {"decisions",
     "(?i)\\b(?:we|i)(?:'ve| have)? (?:decided|agreed|chosen|chose|picked|settled on|went with|"
     "landed on|opted for|committed to|finalised|finalized|locked in)(?: to| on)? ([^.!?;]+)",
     Shape::phrase, 0.85, Cue::plain, 14, false},
    {"decisions", "(?i)\\b(?:we're|we are|i'm|i am) (?:going with|sticking with|going ahead with) ([^.!?;]+)",
     Shape::phrase, 0.85, Cue::plain, 14, false},
    {"rejected",
     "(?i)\\b(?:we|i)(?:'ve| have)? (?:dropped|ruled out|decided against|rejected|scrapped|ditched|"
     "abandoned|killed|shelved|passed on|said no to)(?: the idea of)? ([^.!?;]+)",
     Shape::phrase, 0.85, Cue::plain, 12, false},
    {"rejected",
     "(?i)\\b(?:we're|we are|i'm|i am) (?:dropping|ditching|stopping|phasing out|getting out of|"
     "walking away from|saying no to) ([^.!?;]+)",
     Shape::phrase, 0.85, Cue::plain, 12, false},
    {"rejected", "(?i)\\b(?:get|got|getting) out of ([^.!?;]+)", Shape::phrase, 0.75, Cue::plain, 12, false},
    {"rejected",
     "(?i)\\b(?:we|i)(?:'ve| have)? (?:decided|agreed|chose) (?:not to (?:go with|go on|list on|sell on|"
     "sell through|sell to|use|do|stock|offer|work with|be on|join|pursue|open|launch|take on|bother with|"
     "wholesale to|partner with)|no(?: to)?) ([^.!?;]+)",
     Shape::phrase, 0.85, Cue::plain, 12, false},
    {"rejected",
     "(?i)\\b(?:we|i)(?: will not|'ll not| won't| will never| are not going to| aren't going to|'re not "
     "going "
     "to| am not going to|'m not going to) (?:list on|sell on|sell through|sell to|use|go on|be "
     "on|join|stock|"
     "work with|partner with|offer|pursue|take on|go with|touch|wholesale to|bother with) ([^.!?;]+)",
     Shape::phrase, 0.8, Cue::plain, 12, false},
    {"rejected",
     "(?i)\\b(?:we|i)(?:'ll| will)? (?:never|don't|do not|won't|will not|aren't going to|are not going to) "
     "(?:ever )?(?:offer|do|sell|stock|run|provide|carry|make|touch|go near|bother with) (?:any "
     ")?([^.!?;,]+)",
     Shape::phrase, 0.8, Cue::plain, 8, false},
    {"rejected",
     "(?i)\\b(?:rul(?:e|ed|ing) out|no more|not doing|not offering|not selling|not stocking) (?:the |any )?"
     "([^.!?;,]+)",
     Shape::phrase, 0.8, Cue::plain, 8, false},
    // No subject of its own ("also nixed the hard seltzer idea"): the article keeps "prices dropped" out.
    {"rejected",
     "(?i)\\b(?:nixed|binned|canned|axed|killed|scrapped|shelved|ditched|vetoed) (?:the|our|that|this) "
     "([^.!?;]+)",
     Shape::phrase, 0.8, Cue::plain, 12, false},
    {"rejected",
     "(?i)\\b(?:we're|we are|i'm|i am) not (?:going|doing|going to do|going ahead) with ([^.!?;]+)",
     Shape::phrase, 0.8, Cue::plain, 12, false},
    // Tried and given up: "We tried Tiki but sales were small", "Lazada we tried before but it was a
    // hassle", "gave up on Etsy", "Jumia didn't work out for us". Rules see one clause at a time, and a
    // clause is cut before "but", so "tried X" ending its clause is the part before the "but".
    {"rejected",
     "(?i:\\b(?:we|i)(?:'ve| have)? (?:tried|tested|trialled|trialed|looked at|looked into|considered|"
     "checked out|thought about)(?: selling on| selling through| "
     "selling "
     "at| listing on| using| out)?) (\\p{Lu}[\\p{L}'&-]*(?: \\p{Lu}[\\p{L}'&-]*){0,2})(?i: before| already| "
     "once| last year| for a while| for a bit)?[,.!]? *$",
     Shape::phrase, 0.8, Cue::plain, 3, false},
    {"rejected",
     "(?:^ ?|[,:;] )(\\p{Lu}[\\p{L}'&-]*(?: \\p{Lu}[\\p{L}'&-]*)?) (?i:we|i) (?i:tried|tested)(?i: it)?(?i: "
     "before| already| once| last year| for a while)?(?:[,.!]? *$|,? (?i:and (?:it )?(?:didn't|did not|"
     "never)|and (?:we )?stopped)\\b)",
     Shape::phrase, 0.8, Cue::plain, 3, false},
    {"rejected",
     "(?i:\\b(?:gave up on|giving up on|given up on|give up on|stopped selling on|stopped selling through|"
     "stopped using|stopped listing on|quit selling on|pulled out of|closed our shop on|closed our store "
     "on)) "
     "(\\p{Lu}[\\p{L}'&-]*(?: \\p{Lu}[\\p{L}'&-]*){0,2})",
     Shape::phrase, 0.8, Cue::plain, 3, false},
    {"rejected",
     "(?:^ ?(?i:(?:honestly|sadly|unfortunately|well|also|plus|and|but|so),? )?|[,:;] |\\b(?i:but|and|so) )"
     "(\\p{Lu}[\\p{L}'&-]*(?: \\p{Lu}[\\p{L}'&-]*)?) (?i:didn't|did not|never) (?i:work|worked|work out|"
     "worked out|sell|sold|pay off|paid off)\\b",
     Shape::phrase, 0.8, Cue::plain, 3, false},
    // Refused in the passive, or after someone else proposed it: "Viator was considered and rejected",
    // "Someone offered MercadoLibre ads and I said no", "Someone suggested Daraz, but I've decided no".
    {"rejected",
     "\\b(\\p{Lu}[\\p{L}'&-]*(?: \\p{Lu}[\\p{L}'&-]*)?) (?i:was|were|got|has been|have been)(?i: considered "
     "and| "
     "looked at and| tried and)? (?i:rejected|ruled out|dropped|turned down|scrapped|binned|vetoed)\\b",
     Shape::proper, 0.85, Cue::plain, 4, false},
    {"rejected",
     "(?i:\\b(?:offered|suggested|proposed|pitched|recommended)(?: us| me)?(?: "
     "(?:selling|listing|going|being)"
     "(?: \\p{Ll}+){0,2}? (?:on|through|with)| using)?) (\\p{Lu}[\\p{L}'&-]*(?: "
     "\\p{Lu}[\\p{L}'&-]*)?)[^.!?;]{0,60}?(?i:\\b(?:i|we)(?: have|'ve)?"
     "(?: said| decided| told them)? (?:no|nope|not interested))\\b",
     Shape::proper, 0.85, Cue::plain, 4, false},
    // A refusal said as a note: "no tiktok please.", "I decided: no Talabat.", "Instagram yes, Facebook no".
    {"rejected",
     "(?i)(?:^ ?|[:;] )(?:please |pls |definitely |absolutely )?no ((?:\\p{L}[\\p{L}'-]*)(?: "
     "\\p{Lu}[\\p{L}'-]*)?)"
     "(?: please| pls| thanks| for us| for now)? *(?:[.!,;(]|$)",
     Shape::phrase, 0.8, Cue::plain, 3, false},
    // After a comma only a name ("…, no Amazon."): "…, no cóż." is a way of speaking.
    {"rejected", ", (?i:no) (\\p{Lu}[\\p{L}'-]*(?: \\p{Lu}[\\p{L}'-]*)?) *(?:[.!,;(]|$)", Shape::phrase, 0.8,
     Cue::plain, 3, false},
    {"rejected",
     "(?:^ ?|[,:;] )(\\p{Lu}[\\p{L}'-]*(?: \\p{Lu}[\\p{L}'-]*)?) (?i:no|nope|never)\\b *(?:[.!,;(]|$)",
     Shape::phrase, 0.8, Cue::plain, 3, false},
    // A word the user will not have in their copy: "don't want to use the word 'exotic'", "ban 'luxury'".
    {"rejected",
     "(?i)\\b(?:don't|do not|never|won't|will not) (?:want to |wanna )?(?:use|say|write) (?:the word |the "
     "term )?"
     "['\"]([^'\".!?,;]{2,30})['\"]",
     Shape::phrase, 0.8, Cue::plain, 4, false},
    {"rejected", "(?i)\\b(?:ban|banned|banning) (?:the word |the term )?['\"]([^'\".!?,;]{2,30})['\"]",
     Shape::phrase, 0.8, Cue::plain, 4, false},
    {"plans", "(?i)\\b(?:we're|we are|i'm|i am|we|i) (?:planning|plan|intend|intending|going) to ([^.!?;]+)",
     Shape::phrase, 0.7, Cue::plain, 14, false},
    {"plans",
     "(?i)\\b(?:next (?:month|year|quarter|spring|summer|week)|later this year|in the new year),? "
     "(?:we|i)(?:'ll| will| want to| plan to)? ([^.!?;]+)",
     Shape::phrase, 0.75, Cue::plain, 14, false},
    // Opening days and hours: "We're open Tuesday to Sunday, 7am till 10am", "closed mondays",
    // "open wed-sun 11-7", "Wi open Thursday to Sunday", "open every day 7am to 3pm".
    {"hours",
     "(?i)\\b((?:open|opening|closed|closing|shut)(?: on| from| only| just| also)? (?:every "
     "day|everyday|daily|seven days|7 "
     "days|all week|(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\\.?)(?:(?:,? "
     "?(?:to|till|until|through|and|&|-|–|,) ?)"
     "(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\\.?|\\d{1,2}(?::\\d{2})? ?(?:am|pm|h)?))*"
     "(?: a week)?(?:,? (?:from )?\\d{1,2}(?::\\d{2})? ?(?:am|pm|h)?(?: ?(?:to|till|until|-|–) "
     "?\\d{1,2}(?::\\d{2})? "
     "?(?:am|pm|h)?)?)?)",
     Shape::phrase, 0.8, Cue::plain, 14, false},
    // "so now a Wednesday to Sunday": the days a change makes.
    {"hours",
     "(?i)\\bnow (?:a |on |it's |we're |we are )?((?:mon|tue|wed|thu|fri|sat|sun)[a-z]* "
     "(?:to|-|–|through|till) "
     "(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*)",
     Shape::phrase, 0.85, Cue::correction, 6, false},
    {"hours",
     "(?i)\\b((?:open|close|closing)(?: late)? (?:until|till|til|to|at) \\d{1,2}(?::\\d{2})? "
     "?(?:am|pm|h)\\b)",
     Shape::phrase, 0.8, Cue::plain, 6, false},
    {"hours",
     "(?i)\\b((?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\\.? (?:closed|shut|off)|"
     "(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\\.?(?: ?(?:-|–|to|,) "
     "?(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\\.?),? "
     "\\d{1,2}(?::\\d{2})? ?(?:am|pm|h)?(?: ?(?:-|–|to|till) ?\\d{1,2}(?::\\d{2})? ?(?:am|pm|h)?)(?: only)?)",
     Shape::phrase, 0.75, Cue::plain, 8, false},
    // Projects.
    {"projects",
     "(?i)\\b(?:working on|building|developing|putting together|launching) (?:a |an |our |my )?(?:new )?"
     "((?:[\\w'-]+ ){0,4}(?:project|app|course|podcast|campaign|collection|line|range|product|book|"
     "newsletter|website|programme|program|series|menu|workshop))\\b",
     Shape::phrase, 0.75, Cue::plain, 8, false},
    {"projects", "(?i)\\b(?:project|campaign|collection|course|podcast) (?:called|named) ([^.!?;]+)",
     Shape::proper, 0.85, Cue::plain, 5, false},
};

#undef BC_WE

// Words that end a phrase value: the next clause starts.
constexpr std::array<std::string_view, 46> kBoundaryWords = {
    "and",  "but",  "so",   "because", "which", "who",    "where", "since",  "though", "although", "while",
    "if",   "when", "as",   "that's",  "it's",  "right",  "just",  "anyway", "btw",    "lol",      "haha",
    "also", "then", "plus", "thanks",  "thank", "please", "can",   "could",  "would",  "should",   "how",
    "what", "any",  "do",   "does",    "is",    "are",    "was",   "we",     "i",      "called",   "named"};

bool is_boundary(std::string_view word) {
  std::string w;
  for (const char c : word) w += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  while (!w.empty() && !std::isalnum(static_cast<unsigned char>(w.back()))) w.pop_back();
  return std::find(kBoundaryWords.begin(), kBoundaryWords.end(), w) != kBoundaryWords.end();
}

std::string_view trim(std::string_view s) {
  const auto junk = [](char c) {
    return std::isspace(static_cast<unsigned char>(c)) || c == ',' || c == '"' || c == '\'' || c == ':' ||
           c == '-' || c == '(' || c == ')' || c == '*' || c == '_';
  };
  while (!s.empty() && junk(s.front())) s.remove_prefix(1);
  while (!s.empty() && (junk(s.back()) || s.back() == '.')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split_words(std::string_view s) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos < s.size()) {
    while (pos < s.size() && s[pos] == ' ') ++pos;
    size_t end = s.find(' ', pos);
    if (end == std::string_view::npos) end = s.size();
    if (end > pos) out.push_back(s.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

// A phrase value: words up to a clause boundary (a boundary word after the first, or a word that
// ends with a comma/paren), at most `max_words`.
std::string phrase_value(std::string_view raw, size_t max_words, bool stop_at_comma) {
  auto all = split_words(raw);
  // "against any presence on TikTok": the determiner says nothing, the words after it do.
  if (all.size() > 1 && (all.front() == "any" || all.front() == "Any")) all.erase(all.begin());
  if (!all.empty() && is_boundary(all.front())) return {};  // "…we serve are mostly…": no value here
  std::string out;
  size_t taken = 0;
  for (auto word : all) {
    if (taken > 0 && is_boundary(word)) break;
    if (word.front() == '(' && taken > 0) break;
    if (taken >= max_words) break;
    const bool ends_clause = word.back() == ',' || word.back() == ')' || word.back() == ':';
    out += (out.empty() ? "" : " ") + std::string(word);
    ++taken;
    if (ends_clause && stop_at_comma) break;
  }
  return std::string(trim(out));
}

// A proper-noun value ("Leeds", "Brightside Bakery", "São Paulo, Brazil"): for text written with
// capitals, the capitalised run (allowing "of", "&", "de"); otherwise a short phrase.
std::string proper_value(std::string_view raw, size_t max_words) {
  const auto words = split_words(raw);
  if (words.empty()) return {};
  bool any_capital = false;
  for (const auto& w : words) any_capital |= std::isupper(static_cast<unsigned char>(w.front())) != 0;
  const bool starts_lower =
      std::islower(static_cast<unsigned char>(words.front().front())) != 0 && words.front() != "the";
  if (!any_capital || starts_lower) return phrase_value(raw, std::min<size_t>(max_words, 3), true);
  std::string out;
  size_t taken = 0;
  for (size_t i = 0; i < words.size() && taken < max_words; ++i) {
    std::string_view w = words[i];
    if (i == 0 && (w == "the" || w == "The")) {
      out = std::string(w);
      continue;
    }
    const bool capital = std::isupper(static_cast<unsigned char>(w.front())) ||
                         std::isdigit(static_cast<unsigned char>(w.front())) ||
                         static_cast<unsigned char>(w.front()) >= 0x80 || w.front() == '"' ||
                         w.front() == '\'';
    const bool joiner =
        (w == "of" || w == "&" || w == "de" || w == "do" || w == "da" || w == "and" || w == "on") &&
        i + 1 < words.size() && std::isupper(static_cast<unsigned char>(words[i + 1].front()));
    if (!capital && !joiner) break;
    out += (out.empty() ? "" : " ") + std::string(w);
    ++taken;
    if (w.back() == ',' || w.back() == ')') {
      // "Porto, Portugal": keep one more capitalised word group after a comma.
      if (w.back() == ',' && i + 1 < words.size() &&
          std::isupper(static_cast<unsigned char>(words[i + 1].front())) && taken < max_words &&
          !is_boundary(words[i + 1])) {
        continue;
      }
      break;
    }
  }
  std::string value(trim(out));
  if (value == "the" || value == "The") return {};
  return value;
}

// "Acme, Bolt & Co and Zephyr" -> three values.
std::vector<std::string> list_values(std::string_view raw_with_asides, size_t max_words) {
  // "Tanaka Partners (Tokyo, bigger, pricier)": the aside is not a member of the list.
  std::string without_asides;
  int depth = 0;
  for (const char c : raw_with_asides) {
    if (c == '(') ++depth;
    if (depth == 0) without_asides += c;
    if (c == ')' && depth > 0) --depth;
  }
  const std::string_view raw = without_asides;
  std::string phrase;
  size_t taken = 0;
  for (auto word : split_words(raw)) {
    if (taken >= max_words) break;
    std::string lowered;
    for (const char c : word) lowered += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const bool joiner = lowered == "and" || lowered == "or" || lowered == "&" || lowered == "plus";
    if (!joiner && taken > 0 && is_boundary(word)) break;
    phrase += (phrase.empty() ? "" : " ") + std::string(word);
    ++taken;
  }
  std::vector<std::string> out;
  std::string current;
  auto flush = [&] {
    auto value = trim(current);
    // Drop leading articles/possessives: "the local chains" stays, "and Zephyr" -> "Zephyr".
    // "A and B, more than C": C is a member too, watched less.
    for (std::string_view lead :
         {"and ", "or ", "plus ", "& ", "also ", "more than ", "rather than ", "less than "}) {
      if (value.size() > lead.size() && value.substr(0, lead.size()) == lead)
        value.remove_prefix(lead.size());
    }
    value = trim(value);
    // "a bit cheeky" is the trait "cheeky"; "the Bread Shed" the name "Bread Shed".
    for (bool stripped = true; stripped;) {
      stripped = false;
      for (std::string_view lead : {"a bit ", "a little ", "a touch ", "quite ", "very ", "super ", "really ",
                                    "kinda ", "kind of ", "slightly ", "pretty ", "a ", "an "}) {
        if (value.size() > lead.size() && value.substr(0, lead.size()) == lead) {
          value.remove_prefix(lead.size());
          stripped = true;
        }
      }
    }
    if (value.size() > 4 && (value.starts_with("the ") || value.starts_with("The ")) &&
        std::isupper(static_cast<unsigned char>(value[4])))
      value.remove_prefix(4);
    if (!value.empty() && value.size() <= 80) out.emplace_back(value);
    current.clear();
  };
  for (auto word : split_words(phrase)) {
    std::string lowered;
    for (const char c : word) lowered += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lowered == "and" || lowered == "or" || lowered == "&" || lowered == "plus" || lowered == "/") {
      flush();
      continue;
    }
    const bool comma = word.back() == ',';
    current += (current.empty() ? "" : " ") + std::string(comma ? word.substr(0, word.size() - 1) : word);
    if (comma) flush();
  }
  flush();
  return out;
}

// A capitalised word that is only capitalised because it starts the sentence: a common noun by its
// ending ("Subscription", "Delivery", "Shipping") or one of the things small businesses price.
bool looks_like_common_noun(std::string_view word) {
  const std::string w = text::ascii_lower(word);
  static constexpr std::string_view kEndings[] = {"tion", "sion", "ship", "ment", "ness", "ery",
                                                  "ary",  "age",  "ance", "ence", "ity",  "ing",
                                                  "ure",  "ism",  "ees",  "fee"};
  if (w.size() > 4 && std::any_of(std::begin(kEndings), std::end(kEndings),
                                  [&](std::string_view end) { return w.ends_with(end); }))
    return true;
  static constexpr std::string_view kNouns[] = {
      "plan", "pass", "class", "price", "prices", "rent", "box", "ticket", "tickets", "lesson", "course",
      "menu", "tour", "session", "package", "service", "entry", "rate", "deposit", "consult", "haircut",
      "treatment", "bundle", "kit", "product", "stock", "coffee", "cake", "bread", "cover", "workshop",
      "standard", "basic", "premium", "deluxe", "starter", "combo", "plate", "visit", "repair", "install",
      "clean", "wash", "colour", "color", "massage", "facial", "room", "night", "stay", "tasting", "flight",
      "bottle", "crate", "jar", "pack", "bag", "loaf", "pie", "meal", "lunch", "dinner", "brunch", "retreat",
      "camp", "trip", "trek", "fare", "callout", "call-out", "hourly", "monthly", "weekly", "annual",
      "single", "double", "family", "group", "private", "solo", "shoot", "print", "card", "mug", "candle",
      "soap", "skein", "yarn", "certified", "express", "delivery", "shipping", "entry", "admission", "day",
      "half-day", "full-day", "weekend", "pro", "team", "site", "logo", "design",
      // Words that open a sentence about the user's own prices ("New prices from January: …").
      "new", "all", "current", "latest", "regular", "normal", "special", "seasonal", "holiday", "summer",
      "winter", "student", "students", "kids", "adult", "adults"};
  return std::find(std::begin(kNouns), std::end(kNouns), w) != std::end(kNouns);
}

// Curly quotes and dashes to ASCII so patterns see one spelling.
bool is_company_suffix(std::string_view text) {
  static constexpr std::string_view kSuffixes[] = {" Co", " Inc", " Ltd", " Bros", " Corp", " LLC", " Pty"};
  return std::any_of(std::begin(kSuffixes), std::end(kSuffixes),
                     [&](std::string_view suffix) { return text.ends_with(suffix); });
}

std::string normalise(std::string_view message) {
  std::string out;
  out.reserve(message.size());
  for (size_t i = 0; i < message.size(); ++i) {
    const auto rest = message.substr(i);
    if (rest.starts_with("\u2019") || rest.starts_with("\u2018")) {
      out += '\'';
      i += 2;
    } else if (rest.starts_with("\u201c") || rest.starts_with("\u201d")) {
      out += '"';
      i += 2;
    } else if (rest.starts_with("\u2013") || rest.starts_with("\u2014")) {
      // Between numbers a dash is a range ("9–13 June", "£10–£12"), elsewhere an aside.
      const bool digits = !out.empty() && std::isdigit(static_cast<unsigned char>(out.back())) &&
                          rest.size() > 3 && std::isdigit(static_cast<unsigned char>(rest[3]));
      // "Mon–Fri", written tight between two words, is a range too.
      const bool tight = !out.empty() && std::isalpha(static_cast<unsigned char>(out.back())) &&
                         rest.size() > 3 && std::isalpha(static_cast<unsigned char>(rest[3]));
      const bool range = digits || tight;
      out += range ? "-" : ", ";
      i += 2;
    } else if (message[i] == '\n' && i + 2 < message.size() &&
               (message.substr(i + 1, 2) == "- " || message.substr(i + 1, 2) == "* ")) {
      // A bullet list reads as one comma-separated sentence: "Competitors: - A - B" -> "Competitors: A, B".
      const bool after_colon = !out.empty() && (out.back() == ':' || out.back() == ' ');
      out += after_colon ? " " : ", ";
      i += 2;
    } else if (message[i] == '\n' || message[i] == '\t') {
      out += ". ";
    } else if (message[i] == '.' && is_company_suffix(out) && i + 2 < message.size() &&
               (message[i + 1] == ',' ||
                (message[i + 1] == ' ' && std::islower(static_cast<unsigned char>(message[i + 2]))))) {
      // "Kiwi Fleece Co. and Ōtākou Wool": the suffix's period ends no sentence and no list item.
    } else {
      out += message[i];
    }
  }
  return out;
}

// Sentences: split at . ! ? ; followed by a space (not inside "$12.50" or "Dr. Lee"-like tokens,
// which have no space after the dot or are followed by a capitalised name we accept losing).
std::vector<std::string> sentences(std::string_view text) {
  std::vector<std::string> out;
  std::string current;
  for (size_t i = 0; i < text.size(); ++i) {
    current += text[i];
    const char c = text[i];
    if ((c == '.' || c == '!' || c == '?' || c == ';') && (i + 1 == text.size() || text[i + 1] == ' ')) {
      const bool abbreviation =
          c == '.' && current.size() >= 3 &&
          (current.ends_with("Dr.") || current.ends_with("Mr.") || current.ends_with("Ms.") ||
           current.ends_with("St.") || current.ends_with("Mrs.") || current.ends_with("vs.") ||
           current.ends_with("e.g.") || current.ends_with("i.e.") ||
           // "Island Staffing Co. offers…": a company suffix ends the sentence only before a capital.
           ((current.ends_with("Co.") || current.ends_with("Inc.") || current.ends_with("Ltd.") ||
             current.ends_with("Corp.") || current.ends_with("Bros.")) &&
            i + 2 < text.size() && std::islower(static_cast<unsigned char>(text[i + 2]))));
      if (!abbreviation) {
        out.push_back(std::move(current));
        current.clear();
      }
    }
  }
  if (!trim(current).empty()) out.push_back(std::move(current));
  return out;
}

// Words between a thing and its price or date that are not part of its name.
bool is_linking_word(std::string_view word) {
  static constexpr std::string_view kWords[] = {
      "is", "are", "was", "will", "be", "costs", "cost", "costing", "goes", "go", "for", "at", "sells",
      "sell", "selling", "sold", "priced", "now", "only", "just", "like", "about", "around", "roughly",
      "charge", "charges", "charging", "we", "i", "we'll", "it's", "it", "would", "to", "price", "pricing",
      "rate", "fee", "set", "up", "starts", "start", "starting", "from", "currently", "bumped", "raised",
      "moved", "changed", "lowered", "dropped", "going", "gonna", "on", "in", "begins", "begin", "beginning",
      "happens", "happening", "kicks", "off", "scheduled", "planned", "takes", "place", "runs", "run", "due",
      "booked", "we're", "i'm", "now,", "then", "still", "retail", "retails", "the", "a", "an", "of", "comes",
      "come", "out", "per", "pushed", "back", "forward", "has", "have", "had", "been", "get", "gets", "sits",
      "stays", "stay", "officially", "finally", "actually", "probably", "tentatively", "currently", "mon",
      "tue", "wed", "thu", "fri", "sat", "sun", "monday", "tuesday", "wednesday", "thursday", "friday",
      "saturday", "sunday", "moving", "upping", "hiking", "shifting", "jumping", "rising", "climbing",
      "bringing", "taking", "raising", "bumping", "lowering", "cutting", "dropping", "putting", "gone",
      "shifted", "rescheduled", "postponed", "rises", "rose", "becomes", "become", "passes", "increases",
      "increased", "jumps", "jumped", "climbs", "climbed", "falls", "fell", "went", "fees", "prices", "rates",
      "tariff", "tariffs",
      // "the dress price we change to 419 zł": the user's verb is not the thing.
      "change", "changing", "make", "making", "setting"};
  std::string w = text::ascii_lower(word);
  while (!w.empty() && !std::isalnum(static_cast<unsigned char>(w.back()))) w.pop_back();
  return std::find(std::begin(kWords), std::end(kWords), w) != std::end(kWords);
}

bool ends_item(std::string_view word) {
  static constexpr std::string_view kStops[] = {
      "our",      "my",      "the",       "a",       "an",       "and",     "but",    "so",       "we",
      "i",        "their",   "your",      "this",    "that",     "each",    "one",    "per",      "every",
      "with",     "while",   "also",      "if",      "when",     "because", "which",  "ours",     "mine",
      "it",       "they",    "these",     "those",   "them",     "its",     "we're",  "i'm",      "upping",
      "raising",  "bumping", "hiking",    "putting", "bringing", "taking",  "moving", "lowering", "cutting",
      "dropping", "is",      "are",       "was",     "were",     "raised",  "upped",  "bumped",   "hiked",
      "lowered",  "dropped", "increased", "reduced", "changed",  "moved",   "put",    "bump",     "raise",
      "hike",     "had",     "have",      "has",     "to"};
  std::string w = text::ascii_lower(word);
  while (!w.empty() && !std::isalnum(static_cast<unsigned char>(w.back()))) w.pop_back();
  return w.empty() || std::find(std::begin(kStops), std::end(kStops), w) != std::end(kStops);
}

// The thing a price or date belongs to, from the words before it: "my sourdough costs" -> "sourdough",
// "the teacher training begins on" -> "teacher training".
std::string item_before(std::string_view before) {
  // "Glow Butter, ₦8,500": the comma joins the name to its price.
  while (!before.empty() && before.back() == ' ') before.remove_suffix(1);
  if (!before.empty() && (before.back() == ',' || before.back() == ':')) before.remove_suffix(1);
  auto words = split_words(before);
  bool priced_by_verb = false;
  while (!words.empty() && is_linking_word(words.back())) {
    static constexpr std::string_view kPricingVerbs[] = {"sold",  "sells", "sell",    "selling", "priced",
                                                         "costs", "cost",  "retails", "goes"};
    priced_by_verb |= std::find(std::begin(kPricingVerbs), std::end(kPricingVerbs),
                                text::ascii_lower(words.back())) != std::end(kPricingVerbs);
    words.pop_back();
  }
  // "a 24-month Comté, sold at €38": the comma before a verb of pricing joins the thing to it too
  // ("a package in Diani, from KSh 400,000" names no thing).
  if (priced_by_verb && !words.empty() && words.back().size() > 1 && words.back().back() == ',')
    words.back().remove_suffix(1);
  // "small dog 120 → 130 zł": the old amount and its arrow are not the thing.
  const auto arrow = [](std::string_view word) {
    return word.ends_with("→") || word.ends_with("->") || word.ends_with("=>") || word.starts_with("➡");
  };
  if (!words.empty() && arrow(words.back())) {
    const bool joined = words.back().size() > 3 && std::isdigit(static_cast<unsigned char>(words.back()[0]));
    words.pop_back();
    if (!joined && !words.empty() && std::any_of(words.back().begin(), words.back().end(), [](char c) {
          return std::isdigit(static_cast<unsigned char>(c));
        }))
      words.pop_back();
    while (!words.empty() && is_linking_word(words.back())) words.pop_back();
  }
  std::vector<std::string_view> item;
  // A name ends the item where its capitals end: "a pale ale called Lagan Lazy" -> "Lagan Lazy".
  const auto capital = [](std::string_view word) {
    return std::isupper(static_cast<unsigned char>(word[0]));
  };
  const bool named = !words.empty() && capital(words.back());
  // "we change private price to": after "we" or "I" the word is what they do, not part of the thing
  // (an "oil change" stays one).
  const auto done_by_subject = [&](size_t at) {
    static constexpr std::string_view kSubjects[] = {"we", "i", "we'll", "i'll", "will", "let's", "to"};
    static constexpr std::string_view kVerbs[] = {"change", "set",    "make",     "put",    "bump",  "raise",
                                                  "lower",  "cut",    "increase", "reduce", "move",  "keep",
                                                  "adjust", "update", "fix",      "drop",   "double"};
    const std::string verb = text::ascii_lower(words[at]);
    return at > 0 && std::find(std::begin(kVerbs), std::end(kVerbs), verb) != std::end(kVerbs) &&
           std::find(std::begin(kSubjects), std::end(kSubjects), text::ascii_lower(words[at - 1])) !=
               std::end(kSubjects);
  };
  while (!words.empty() && item.size() < 4 && !ends_item(words.back())) {
    const auto word = words.back();
    if (word.back() == ',' || word.back() == ':' || word.back() == ')') break;
    if (named && !capital(word)) break;
    if (done_by_subject(words.size() - 1)) break;
    item.insert(item.begin(), word);
    words.pop_back();
  }
  std::string out;
  for (const auto word : item) out += (out.empty() ? "" : " ") + std::string(word);
  return std::string(trim(out));
}

// The budget's own name, from the word before "budget": "the marketing budget is…" -> "marketing".
std::string budget_name(std::string_view clause) {
  const auto words = split_words(clause);
  for (size_t i = 1; i < words.size(); ++i) {
    std::string word = text::ascii_lower(trim(words[i]));
    if (!word.starts_with("budget")) continue;
    const std::string before = text::ascii_lower(trim(words[i - 1]));
    static constexpr std::string_view kNotNames[] = {
        "the",  "our",  "my",     "a",      "total",  "monthly", "new",    "overall", "whole",
        "this", "that", "annual", "yearly", "weekly", "full",    "entire", "current", "its"};
    if (before.empty() ||
        std::find(std::begin(kNotNames), std::end(kNotNames), before) != std::end(kNotNames) ||
        !std::all_of(before.begin(), before.end(),
                     [](char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '-'; }))
      return {};
    return before;
  }
  return {};
}

// Or from the words after a price: "$39 a month for the basic plan" -> "basic plan".
std::string item_after(std::string_view after) {
  auto words = split_words(after);
  size_t i = 0;
  while (i < words.size() && i < 3 && text::ascii_lower(words[i]) != "for") ++i;
  if (i >= words.size() || text::ascii_lower(words[i]) != "for") return {};
  ++i;
  while (i < words.size() && ends_item(words[i])) ++i;
  std::string out;
  for (size_t taken = 0; i < words.size() && taken < 4 && !is_boundary(words[i]); ++i, ++taken) {
    out += (out.empty() ? "" : " ") + std::string(words[i]);
    if (words[i].back() == ',') break;
  }
  return std::string(trim(out));
}

}  // namespace

struct FactExtractor::Rules {
  struct Compiled {
    const RuleSpec* spec;
    std::unique_ptr<RE2> re;
  };
  std::vector<Compiled> rules;
  std::unique_ptr<RE2> third_party;
  std::unique_ptr<RE2> first_person;
  std::unique_ptr<RE2> hypothetical;
  std::unique_ptr<RE2> past;
  std::unique_ptr<RE2> rejected_after;  // (option): "we considered Amazon but said no"
  std::unique_ptr<RE2> correction;
  std::unique_ptr<RE2> retraction;
  std::unique_ptr<RE2> clause_split;
  std::unique_ptr<RE2> person;        // (role, name)
  std::unique_ptr<RE2> person_after;  // (name, role): "Kayla is my new helper"
  std::unique_ptr<RE2>
      not_the_user;              // "my cousin", "I think": first-person words that are not the user acting
  std::unique_ptr<RE2> hearsay;  // "does like $60", "apparently"
  std::unique_ptr<RE2> product_named;     // (item, name): "the flagship is now called Silver Lining"
  std::unique_ptr<RE2> product_chosen;    // (name, item): "we went with Wildling for the subscription"
  std::unique_ptr<RE2> joins_as;          // (name, role): "Aisha Karim will join as partner"
  std::unique_ptr<RE2> own_clause;        // ", ours is …": where the user's own clause starts
  std::unique_ptr<RE2> departed;          // (name): "Davey pulled out of …", "Acme shut down"
  std::unique_ptr<RE2> takes_over;        // (name, job): "Lani's taking the site over"
  std::unique_ptr<RE2> takes_over_lower;  // the same for text written without capitals
  std::unique_ptr<RE2> investor;          // (name): "my uncle Raj has invested"
  std::unique_ptr<RE2> open_role;         // (name, role): "Chiamaka is my lead stylist"
  std::unique_ptr<RE2> steps_up;          // (name, role): "Verónica takes over as academic director"
  std::unique_ptr<RE2> helps_with;        // (name, job): "Brianna helps me pack orders"
  std::unique_ptr<RE2> relative_clause;   // "who …" after a name: a clause about that name
  std::unique_ptr<RE2> hired_to;          // (name, job): "hired Tessa part-time to pack orders"
  std::unique_ptr<RE2> job_in_brackets;   // (name, job): "Morag Lindsay (bookkeeping)"
  std::unique_ptr<RE2> open_role_first;   // (role, name): "our sponsor is Fynbos Fuel"
  std::unique_ptr<RE2> supplier;          // (name): "flowers come from Kurrajong Blooms"
  std::unique_ptr<RE2> supply_word;       // the sentence is about supplies
  std::unique_ptr<RE2> calendar_word;     // a month or weekday: "in March and April" names no places
  std::unique_ptr<RE2> leading_common;    // (word): a sentence-initial capitalised word before a verb
  std::unique_ptr<RE2> name_change;       // a message announcing a new business name
  std::unique_ptr<RE2> new_name;          // (name): "going with Tidy Tails Mobile"
  std::unique_ptr<RE2> person_lower;      // (role, name) for text written without capitals
  std::unique_ptr<RE2> person_after_lower;
  std::unique_ptr<RE2> switched_to;  // (thing, name): "we switched shampoo to a Québec brand, Chiot Nature"
  std::vector<std::string> invalid_patterns;  // with RE2's reason: a bug, never expected
  std::unique_ptr<RE2> site;                  // (item, place): "the second branch will be in Aundh"
  std::unique_ptr<RE2> site_named;            // (item, place): "a second truck in December, for Ballito"
  std::unique_ptr<RE2> date_value;
  std::unique_ptr<RE2> money_value;
  std::unique_ptr<RE2> count_value;
  std::unique_ptr<RE2> place_value;
  std::unique_ptr<RE2> question_open;   // "whats my studio called": a question without its mark
  std::unique_ptr<RE2> statement_open;  // "when we opened…", "what we do is…": statements after all
};

namespace {

std::unique_ptr<RE2> compile_pattern(const std::string& pattern) {
  RE2::Options options;
  options.set_log_errors(false);
  options.set_encoding(RE2::Options::EncodingUTF8);
  auto re = std::make_unique<RE2>(pattern, options);
  return re;
}

}  // namespace

FactExtractor::FactExtractor() : rules_(std::make_unique<Rules>()) {
  // A pattern that does not compile never matches, silently: tests ask invalid_patterns() for none.
  const auto compile = [this](const std::string& pattern) {
    auto re = compile_pattern(pattern);
    if (!re->ok()) rules_->invalid_patterns.push_back(re->error() + ": " + pattern);
    return re;
  };
  for (const auto& spec : kRules) {
    auto re = compile(spec.pattern);
    if (re->ok()) rules_->rules.push_back({&spec, std::move(re)});
  }
  rules_->third_party = compile(
      "(?i:\\b(?:competitors?|rivals?|they|their|theirs|he|she|his|her|hers|friend|friend's|pal|pal's|mate's|"
      "buddy|buddy's|colleague|colleague's|sister|brother|"
      "cousin|mum|mom|dad|mother|father|uncle|aunt|neighbou?r|supplier|suppliers|client's|customer's|someone|"
      "somebody|another (?:shop|brand|company|business)|other "
      "(?:shops?|brands?|compan(?:y|ies)|businesse?s?|sellers?|vendors?|stalls?|bakeries|cafes|salons)|"
      // "A big agency, Andes Top, sells…", "pichi surf down the beach charges $20.000": a clause with no
      // "we" or "I" that charges or asks is someone else's.
      "charges|is charging|are charging|asks|is asking|are asking)\\b)|"
      "\\b\\p{Lu}[\\p{L}\\w']+\\.?(?: \\p{Lu}[\\p{L}\\w']+\\.?)* "
      // Not "prices": "Cheese prices went crazy" opens a sentence about the user's own costs.
      "(?i:charges?|sells?|does|offers?|has|gets?|goes|asks?|quotes?|"
      "bills?|lists?)\\b|"
      // "A big agency, Andes Top, sells…" opens on another business; "for a small agency it starts at
      // R7,800" names a kind of client.
      "^ ?(?i:an? (?:big |large |local |new |small |fancy )?(?:agency|firm|studio|salon|chain|operator))\\b|"
      // "Big tour companies in Reykjavík … charge about 19.000 kr": a sentence opening on other businesses
      // in the plural that charge or sell (a word of four letters or more before the noun is never "our"
      // or "my"; "Restaurants now 11!" counts the user's customers).
      "^ ?(?i:(?:the |most |many |some |other |big |bigger |large |larger |local |fancy |cheap |cheaper "
      "|online |famous )*(?:[a-z]{4,} )?(?:companies|agencies|firms|operators|outfits|shops|stores|brands|"
      "sellers|vendors|salons|studios|chains|schools|bakeries|cafes|restaurants|hotels|hostels|stalls)\\b"
      "[^.!?;]{0,80}?\\b(?:charge|charging|sell|selling|ask|asking|offer|offering|price|go for|do it "
      "for))\\b|"
      // "The supermarket at the bottom of the hill sells a so-called Comté at €19": a business the user's
      // own never is, named as the subject of a sale.
      "^ ?(?i:(?:the|a|an|this|that) (?:[a-z-]+ ){0,2}(?:supermarket|hypermarket|chain|department store|mall|"
      "guy|lady|woman|man|place (?:down|next|across|near|around|on)|one (?:down|next|across|near|around))\\b"
      "[^.!?;]{0,80}?\\b(?:sells?|selling|charges?|charging|asks?|asking|offers?|goes for|does it for))\\b|"
      // "There is a bigger brand in Accra, Shea Royale, selling something similar for GH₵ 140".
      "(?i:\\bthere(?:'s| is| are) (?:a |an |another |one |some |this |these )?(?:[a-z]+ "
      "){0,2}(?:(?:brand|shop|"
      "business|seller|vendor|stall|place|guy|lady|cafe|salon|school|operator|store|firm|studio)(?:s|es)?|"
      "compan(?:y|ies)|agenc(?:y|ies)|baker(?:y|ies)))\\b");
  rules_->calendar_word = compile(BC_MONTH "|(?:mon|tues|wednes|thurs|fri|satur|sun)day|christmas|easter");
  // The first word after any opening conjunction ("And Standard goes up to £99").
  rules_->leading_common =
      compile("^[^A-Za-z]*(?:(?:And|But|So|Also|Plus|Oh|Ok|Okay|Well|Then|Now)[, ]+)?(\\p{Lu}\\p{Ll}+) ");
  rules_->first_person = compile("(?i)\\b(?:we|we're|we've|we'll|our|ours|us|i|i'm|im|i've|i'll|my|mine)\\b");
  rules_->hypothetical = compile(
      "(?i)\\b(?:what if|if we|if i|should we|should i|would it|could we|could i|might|maybe|perhaps|"
      "thinking|considering|wondering|whether|or should|vs\\.?|versus|hypothetically|imagine|"
      "suppose|compared to|than)\\b");
  rules_->past = compile(
      "(?i)\\b(?:last (?:year|month|quarter|time)|used to|previously|formerly|former|back when|years ago|"
      "in my old|my old|my previous|my last job|before (?:that|this)|was at|worked at|worked for|grew "
      "up)\\b");
  rules_->correction = compile(
      "(?i)\\b(?:actually|correction|scratch that|no longer|not anymore|any ?more|changed|changing|switched|"
      "moved|pushed|bumped|raised|lowered|dropped|renamed|rebranded|relocated|now|instead|update|updated|"
      "turns out|grown|new|revised|final|finally|ended up|"
      // A value from a date on replaces the old one: "from 1 January the fauteuil is 520 €".
      "(?:from|starting|as of) (?:the )?(?:\\d{1,2}(?:st|nd|rd|th)? (?:of )?)?" BC_MONTH
      "|"
      "(?:from|starting) next (?:month|week|year|season))\\b");
  // The option first, the refusal after it, across the "but" that splits clauses.
  rules_->rejected_after = compile(
      "(?i)\\b(?:we|i)(?:'d| had|'ve| have)? (?:thought about|considered|looked at|looked into|explored|"
      "toyed with|tried|floated|weighed|debated|were offered|was offered|got offered) ([^.!?;]+?),? but "
      "(?:we |i )?(?:said no|rejected it|decided against it|passed|ruled it out|dropped it|turned it down|"
      "binned it|killed it|declined|went with no|it's a no|said nah|walked away)");
  rules_->retraction = compile(
      "(?i)\\b(?:no longer|not (?:really )?(?:a )?(?:competitor|competing|compete|rival)|don't compete|"
      "stopped competing|shut down|closed down|went bust|went under|out of business|forget (?:about )?|"
      "remove|scratch|isn't a|aren't|not .{0,20}any ?more)\\b");
  rules_->person = compile(
      "(?i:\\b(?:(?:my|our|the) )?(?:new )?(co-?founder|business partner|partner|designer|graphic "
      "designer|investor|"
      "accountant|mentor|developer|web developer|assistant|photographer|manager|va|virtual "
      "assistant|illustrator|"
      "copywriter|lawyer|head baker|chef|bookkeeper|marketer|marketing person|social media "
      "manager|coach|advisor|"
      "adviser|cto|ceo|intern|helper|boyfriend|girlfriend|husband|wife|fiance|fiancee|brother|sister|editor|"
      "videographer)(?: friend| mate| buddy)?(?: (?:we hired|we use|we work with|i hired|i use|i work "
      "with))?(?:,| is| is called| named|'s name is|"
      " called|:| will be)?(?: (?:my|our) [\\w-]+)?) (\\p{Lu}[\\p{L}\\w'-]+(?: \\p{Lu}[\\p{L}\\w'-]+)?)");
  rules_->person_after = compile(
      "\\b(\\p{Lu}[\\p{L}\\w'-]+(?: \\p{Lu}[\\p{L}\\w'-]+)?) (?i:(?:is|will be|'s) (?:my|our) (?:new "
      "|amazing |brilliant "
      "|lovely )?(co-?founder|"
      "business partner|partner|designer|graphic designer|investor|accountant|mentor|developer|assistant|"
      "photographer|manager|va|illustrator|copywriter|lawyer|head "
      "baker|chef|bookkeeper|marketer|helper|coach|"
      "advisor|adviser|cto|ceo|intern|freelancer|editor|videographer|stylist|baker|barista|teacher|"
      "instructor)\\b)");
  rules_->not_the_user = compile(
      "(?i)\\b(?:(?:my|our) (?:cousin|friend|pal|mate|buddy|colleague|sister|brother|mum|mom|dad|mother|"
      "father|neighbou?r|uncle|aunt|"
      "old boss|former boss|ex|previous employer|competitors?|rivals?)|i think|i guess|i believe|i heard|i "
      "reckon|"
      "i read|i saw|i noticed|i know|next to us|near us|opposite us|down the road from us|across from us)\\b|"
      // "US$590" names a currency, not "us".
      "(?i)\\bus ?\\$");
  rules_->hearsay = compile(
      "(?i)\\b(?:apparently|supposedly|does like|do like|goes for like|is like|are like|do they|they|their|"
      "reportedly|"
      "rumou?r|i think|i believe|i guess|i heard|i reckon)\\b");
  rules_->product_named = compile(
      "(?i)\\b(?:the|our|my) ([\\w-]+(?: [\\w-]+)?) (?:is|will be|'s)(?: now| going to be)? (?:called|named) "
      "([^.!?;,]+)");
  rules_->product_chosen = compile(
      "(?i)\\b(?:went with|picked|chose|landed on|settled on|going with) ([^.!?;,]+?) for (?:the|our|my) "
      "([\\w-]+(?: [\\w-]+)?)");
  rules_->joins_as = compile(
      "\\b(\\p{Lu}[\\p{L}\\w'-]+(?: \\p{Lu}[\\p{L}\\w'-]+)?) (?i:(?:will join|joins|joined|is joining|has "
      "joined|is coming "
      "on|came on|"
      "comes on)(?: board)?(?: us)? as (?:a |an |our |the |new "
      ")?(co-?founder|partner|designer|investor|accountant|"
      "developer|manager|cto|ceo|coo|cmo|director|advisor|adviser|head \\w+))");
  rules_->name_change = compile(
      "(?i)\\b(?:name change|chang(?:ing|ed|e) (?:the|our|my) (?:business |company |shop |brand )?name|new "
      "name|rebrand(?:ing|ed)?|renam(?:e|ed|ing))\\b");
  rules_->new_name = compile(
      "(?i:\\b(?:going with|went with|settled on|landed on|picked|chose|we're now|we are now|it's now|it is "
      "now|now it's|now we're|is now|will now be|will be)) (\\p{Lu}[\\p{L}\\w'&-]*(?: "
      "(?:&|and|of|\\p{Lu}[\\p{L}\\w'&-]*)){0,4})");
  // (name, job): "Lani's taking the site over", "Freja will finish the website", "Tomás does our can art".
  const std::string jobs =
      "(socials?|social media|site|website|web ?site|design|artwork|art|illustrations?|graphics|photos|"
      "photography|books|bookkeeping|accounts|finances|finance|marketing|newsletter|logo|branding|instagram|"
      "insta|ig|"
      "tiktok|"
      "editing|videos?|content|emails?|pr|ads|labels|packaging|deliveries|bookings|scheduling|copy|"
      "copywriting|seo)\\b";
  rules_->takes_over = compile(
      "\\b(\\p{Lu}[\\p{L}-]*(?:'\\p{Lu}[\\p{L}-]+)?(?: \\p{Lu}[\\p{L}-]+)?)(?:,? (?i:from|of) (?i:our|the) "
      "\\w+,?)?"
      "(?:'s| is| will| has| has now| will now| now| is now)? (?i:taking over|taken over|takes over|take "
      "over|taking|finish|finishing|doing|does|"
      "running|runs|handling|handles|looking after|looks after|in charge of|designing|designs|building|"
      "builds|shooting|shoots|managing|manages)(?i: the| our)?(?: [a-z][\\w-]*)? (?i:" +
      jobs + ")");
  // Without capitals a name is any word, so only a third-person verb marks it: "tomás does our can art".
  rules_->takes_over_lower = compile(
      "(?:^|[\\s,;:(])(\\p{Ll}[\\p{L}-]+)(?: does| handles| runs| manages| looks after| takes over|(?:'s| "
      "is) "
      "(?:doing|taking over|handling|running|managing|in charge of)| will (?:do|take over|handle|run|"
      "finish)) (?:the |our )?(?:[a-z][\\w-]* )?" +
      jobs);
  // (name, role) with any role: "Chiamaka is my lead stylist", "Kudu Energy is our sponsor now".
  rules_->open_role = compile(
      "\\b(\\p{Lu}[\\p{L}'-]+(?: \\p{Lu}[\\p{L}'-]+){0,2}) (?i:is|'s|will be)(?:(?i: now| currently)? "
      "(?i:my|our|the new)|(?i: now))"
      "(?i: new)? "
      "((?:[a-z][a-z-]+ ){0,2}[a-z][a-z-]+)\\b(?: now)?\\s*(?:[.!,;)]|$| and | but | so | who | since | "
      "because | as | "
      "from | after | while | until | cuz | - )");
  // (job, name): "our lead stylist is now Adaeze", "the sponsor is Fynbos Fuel now".
  rules_->open_role_first = compile(
      "\\b(?i:my|our) (?i:new )?((?:[a-z][a-z-]+ ){0,2}[a-z][a-z-]+) (?i:is|will be)(?i: now| currently)? "
      "(\\p{Lu}[\\p{L}'-]+(?: \\p{Lu}[\\p{L}'-]+){0,2})");
  // (name): "panels come from Sunlink Distributors", "we import green coffee through Kaffa Direkte".
  rules_->supplier = compile(
      "(?i:\\b(?:come|comes|coming|came|get|gets|getting|buy|buying|source|sourcing|sourced|import|importing|"
      "order|ordering|supplied|switched|switching|moved|moving|going|went|gone)(?: [\\w'-]+){0,3}? "
      "(?:from|through|via|by|to|with)) "
      "(\\p{Lu}[\\p{L}'&-]+(?: (?:&|\\p{Lu}[\\p{L}'&-]+)){0,3})");
  rules_->supply_word = compile(
      "(?i)\\b(?:suppl\\w*|import\\w*|growers?|wholesalers?|distributors?|vendors?|source|farms?|roasters?|"
      "mills?|"
      "sourced|sourcing|panels|beans|flour|stock|ingredients|fabric|materials|"
      "flowers|coffee|produce)\\b");
  // (name, role): "Verónica Paz takes over as academic director", "Ashley, one of our handlers, is
  // stepping up as day manager".
  rules_->steps_up = compile(
      "\\b(\\p{Lu}[\\p{L}'-]+(?: \\p{Lu}[\\p{L}'-]+)?)(?:, [^,.!?]{1,80},)? (?i:(?:is |will be |will |has )?"
      "(?:takes? over|taking over|taken over|steps? up|stepping up|stepped up|steps? in|stepping in|stepped "
      "in|"
      "comes? in|coming in|came in|joins?|joining|joined|promoted|moves? up|moving up|moved up|starts?|"
      "starting|started) as (?:the |our |my |a |an )?(?:new )?((?:[a-z][a-z-]+ ){0,2}[a-z][a-z-]+))\\b"
      "\\s*(?:[.!,;)]|$| and | but | so | from | on | in | at | for | next | this | starting | since | after "
      "| "
      "until | while | because | cuz | - )");
  // (name, job): "my sister Brianna helps me pack orders", "hired Tessa part-time to pack orders",
  // "Morag Lindsay (bookkeeping)".
  rules_->relative_clause = compile("(?i)^(?:who|which|whose|where)\\b");
  rules_->helps_with = compile(
      "\\b(\\p{Lu}[\\p{L}'-]+(?: \\p{Lu}[\\p{L}'-]+)?) (?i:helps|helping|will help|is helping)(?i: me| us)?"
      "(?i: with| to)? ((?:[a-z][a-z-]+ ){0,2}[a-z][a-z-]+)\\b");
  rules_->hired_to = compile(
      "(?i:\\bhired|\\btaken on|\\btook on|\\bbrought in|\\bbringing in) (\\p{Lu}[\\p{L}'-]+(?: "
      "\\p{Lu}[\\p{L}'-]+)?)"
      "(?i:,? (?:part-time|full-time|part time|full time|for weekends|on weekends|as well))?(?i: to| for) "
      "((?:[a-z][a-z-]+ ){0,2}[a-z][a-z-]+)\\b");
  rules_->job_in_brackets = compile("\\b(\\p{Lu}[\\p{L}'-]+(?: \\p{Lu}[\\p{L}'-]+)?) \\(" + jobs + "\\)");
  // (name): "My uncle Raj has invested ₹5 lakh", "Priya put in £20k".
  rules_->investor = compile(
      "\\b(\\p{Lu}[\\p{L}\\w'-]+(?: \\p{Lu}[\\p{L}\\w'-]+)?) (?i:(?:has |have |had |also )?(?:invested|put "
      "in|put up|"
      "backed us|lent us|loaned us|is investing|is putting in))\\b");
  rules_->departed = compile(
      "\\b(\\p{Lu}[\\p{L}\\w'&.-]*(?: \\p{Lu}[\\p{L}\\w'&.-]*){0,2}) (?i:(?:has |have )?(?:pulled out|shut "
      "down|closed "
      "down|closed|went "
      "bust|went under|folded|exited|quit the market|stopped trading|is gone|are gone|went out of "
      "business|ceased (?:operations|trading)(?: entirely)?|(?:is|are) no longer (?:a |an )?(?:competitor|"
      "rival|threat|around)|(?:is|are) not (?:a |an |our )?(?:competitor|rival)s? anymore))\\b");
  rules_->person_lower = compile(
      "\\b(?:my|our) (?:new "
      ")?(co-?founder|partner|designer|helper|assistant|photographer|developer|accountant|"
      "manager|va|boyfriend|girlfriend|husband|wife|brother|sister|investor|mentor)(?: is| named| called|,)? "
      "([a-z][a-z'-]+)\\b");
  rules_->switched_to = compile(
      "\\b(?i:(?:we|i)(?:'ve| have)? (?:switched|swapped|changed)(?: over)? (?:our |my |the "
      ")?)([a-z][a-z-]{2,})"
      "(?i: (?:to|for) )(?:(?i:a|an|the) [^,.;!?]{0,40}?, )?(\\p{Lu}[\\p{L}\\w'&-]*(?: "
      "(?:(?:do|da|de|del|of|and|&) )?\\p{Lu}[\\p{L}\\w'&-]*){0,3})");
  rules_->person_after_lower = compile(
      "\\b([a-z][a-z'-]+) (?:is|will be) (?:my|our) (?:new )?(co-?founder|partner|designer|helper|assistant|"
      "photographer|developer|accountant|manager|va|investor|mentor)\\b");
  rules_->site = compile(
      "(?i)\\b((?:second|third|fourth|new|next|another|other) "
      "(?:branch|outlet|shop|store|location|studio|site|cafe|"
      "café|clinic|kiosk|stall|office|workshop|warehouse|truck|van|cart|stand|boat))(?: \\w+){0,3}? (?:will "
      "be|is going to be|is going|"
      "opens|opening|goes|going|is|would be) (?:in|at|to|into) ([^.!?;,]+)");
  rules_->site_named = compile(
      "(?i:\\b((?:second|third|fourth|new|next|another) (?:branch|outlet|shop|store|location|studio|site|"
      "cafe|café|clinic|kiosk|stall|office|workshop|warehouse|truck|van|cart|stand|boat))\\b[^.!?;]{0,40}? "
      "(?:for|in|at|to)) (?i:" BC_MONTH
      "\\b[^.!?;]{0,30}? (?:for|in|at|to) )?"
      "(\\p{Lu}[\\p{L}\\w'-]+(?: \\p{Lu}[\\p{L}\\w'-]+){0,2})");
  rules_->date_value = compile("(?i)\\b" BC_DATE);
  rules_->money_value = compile("(?i)" BC_MONEY);
  rules_->count_value = compile(
      "(?i)\\b(?:\\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
      "fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|hundred|a dozen|dozen)\\b");
  rules_->place_value = compile(
      "\\b(?i:in|to|from|near|at|out of|based in|moved to|relocated to) (?:the )?\\p{Lu}[\\p{L}\\w'-]+|"
      "\\b\\p{Lu}[\\p{L}\\w'-]+-based\\b|"
      "(?i)\\b(?:based|located|live|living|moved|moving|relocated|relocating|operate|operating|we're|we are|"
      "i'm|im|i am) (?:in|to|out of) [a-z][a-z'-]{2,}");
  rules_->question_open = compile(
      "(?i)^(?:(?:ok|okay|so|and|also|sorry|hey|hi|oh|um|quick one|quick q|btw)[,!.:]* "
      ")*(?:what|whats|what's|"
      "who|whos|who's|whom|whose|where|wheres|where's|when|whens|when's|which|why|how|hows|how's|do you|did "
      "i|"
      "did we|can you|could you|would you|will you|remind me|tell me|have i|have we|is it|is that|are we|am "
      "i|do i|do we)\\b");
  rules_->statement_open = compile(
      "(?i)^(?:(?:ok|okay|so|and|also|oh)[,!.:]* )*(?:when|where|how|what|while|who) (?:we|we're|i|i'm|"
      "our|my)\\b|"
      // "What makes us different: we teach…" answers its own lead-in.
      "(?i)^(?:what|the thing that) (?:makes|sets) [^?:]{1,30}:");
  rules_->own_clause = compile("(?i)(, )(?:ours|our|we|we're|i|i'm|mine|my)\\b");
  rules_->clause_split =
      compile("(?i)(?:, but |, while |, whereas | but | whereas | while |, though |; | - |\\(|\\)|,? so )");
}

FactExtractor::~FactExtractor() = default;
std::vector<std::string> FactExtractor::invalid_patterns() const {
  return rules_->invalid_patterns;
}

FactExtractor::FactExtractor(FactExtractor&&) noexcept = default;
FactExtractor& FactExtractor::operator=(FactExtractor&&) noexcept = default;

namespace {

// Splits a sentence into clauses at contrastive joints ("Acme charges $60, but we charge $39").
std::vector<std::pair<size_t, size_t>> clause_spans(const RE2& split, const RE2& own_clause,
                                                    std::string_view sentence) {
  // Separators: the split pattern's whole match, or the first group of `own_clause` (the comma
  // before "ours is …", keeping "ours" in the next clause).
  std::vector<std::pair<size_t, size_t>> separators;
  re2::StringPiece input(sentence.data(), sentence.size());
  re2::StringPiece match[2];
  for (size_t pos = 0;
       pos < sentence.size() && split.Match(input, pos, sentence.size(), RE2::UNANCHORED, match, 1);) {
    const size_t at = static_cast<size_t>(match[0].data() - sentence.data());
    separators.emplace_back(at, at + match[0].size());
    pos = at + std::max<size_t>(match[0].size(), 1);
  }
  for (size_t pos = 0;
       pos < sentence.size() && own_clause.Match(input, pos, sentence.size(), RE2::UNANCHORED, match, 2);) {
    const size_t at = static_cast<size_t>(match[1].data() - sentence.data());
    separators.emplace_back(at, at + match[1].size());
    pos = at + std::max<size_t>(match[1].size(), 1);
  }
  std::sort(separators.begin(), separators.end());
  std::vector<std::pair<size_t, size_t>> spans;
  size_t start = 0;
  for (const auto& [from, to] : separators) {
    if (from < start) continue;
    spans.emplace_back(start, from);
    start = to;
  }
  spans.emplace_back(start, sentence.size());
  return spans;
}

// A sentence that ends in a question mark (before closing brackets, quotes or emoji); a "?" inside an
// aside ("the bars are now $14 (I think?)") does not make the sentence a question.
bool ends_as_question(std::string_view sentence) {
  size_t end = sentence.size();
  while (end > 0) {
    const auto c = static_cast<unsigned char>(sentence[end - 1]);
    if (c == ' ' || c == ')' || c == ']' || c == '"' || c == '\'' || c >= 0x80) {
      --end;
      continue;
    }
    break;
  }
  return end > 0 && sentence[end - 1] == '?';
}

bool partial(const RE2& re, std::string_view text) {
  return RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), re);
}

std::string clean_money(std::string value) {
  while (!value.empty() && (value.back() == ',' || value.back() == '.')) value.pop_back();
  return value;
}

// The currency mark as compared: "KSh " and "ksh" are one mark.
std::string folded_mark(std::string_view mark) {
  std::string out;
  for (const char c : mark) {
    if (c != ' ' && c != '.') out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// "serenata (5 songs) $3,500", "specialist (bookkeeping, ads) $14/hr": an aside between a thing and its
// price describes the thing. Clauses split at parentheses, which would part the price from its thing,
// so such an aside is left out of what the rules read.
std::string without_asides_before_amounts(const std::string& text, const RE2& amount) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '(' && !out.empty() && out.back() == ' ') {
      const size_t close = text.find_first_of("()", i + 1);
      if (close != std::string::npos && text[close] == ')' && close - i <= 60 && close + 1 < text.size() &&
          text[close + 1] == ' ') {
        re2::StringPiece after(text.data() + close + 2, text.size() - close - 2);
        if (RE2::Consume(&after, amount)) {
          i = close + 1;  // the space after the aside stands in for the one before it
          out.pop_back();
          out += ' ';
          continue;
        }
      }
    }
    out += text[i];
  }
  return out;
}

}  // namespace

std::vector<ExtractedFact> FactExtractor::extract(std::string_view message) const {
  std::vector<ExtractedFact> out;
  const std::string text = without_asides_before_amounts(normalise(message), *rules_->money_value);
  // The message with its questions blanked out (same length, so offsets hold), for the rules below
  // that read across sentences: "who's my co-founder again?" names no co-founder.
  std::string statements = text;
  size_t sentence_at = 0;
  std::string topic;  // a one- or two-word sentence ("Budget.") names what the next one is about
  for (const auto& said : sentences(text)) {
    sentence_at = std::min(text.find(said, sentence_at), text.size());
    const std::string sentence = topic.empty() ? said : topic + ": " + said;
    topic.clear();
    if (const auto words = split_words(said);
        !words.empty() && words.size() <= 2 && std::none_of(said.begin(), said.end(), [](char c) {
          return std::isdigit(static_cast<unsigned char>(c));
        })) {
      topic = said;
      while (!topic.empty() && !std::isalnum(static_cast<unsigned char>(topic.back()))) topic.pop_back();
    }
    const auto clauses = clause_spans(*rules_->clause_split, *rules_->own_clause, sentence);
    const bool sentence_corrects = partial(*rules_->correction, sentence);
    const bool sentence_retracts = partial(*rules_->retraction, sentence);
    // A question asks for advice ("should we charge $40?") or for a memory ("whats my studio called");
    // it states nothing, with or without its question mark.
    const bool question = ends_as_question(said) || opens_as_question(said);
    if (question) {
      std::fill_n(statements.begin() + static_cast<std::ptrdiff_t>(sentence_at),
                  std::min(said.size(), statements.size() - sentence_at), ' ');
      continue;
    }
    {
      re2::StringPiece input(sentence.data(), sentence.size());
      re2::StringPiece option;
      while (RE2::FindAndConsume(&input, *rules_->rejected_after, &option)) {
        std::string value = phrase_value(std::string_view(option.data(), option.size()), 12, false);
        if (value.empty()) continue;
        out.push_back({"rejected", std::move(value), 0.8, Cue::plain,
                       sentence_at + static_cast<size_t>(option.data() - sentence.data())});
      }
    }
    // Who each clause is about. First-person words that are not the user acting ("my cousin sells…",
    // "…I think") do not make a clause the user's; a clause with no subject of its own continues the
    // one before ("they have, I believe, around 100 staff").
    std::vector<bool> first_persons(clauses.size());
    std::vector<bool> others(clauses.size());
    for (size_t c = 0; c < clauses.size(); ++c) {
      const std::string_view clause(sentence.data() + clauses[c].first, clauses[c].second - clauses[c].first);
      std::string own(clause);
      RE2::GlobalReplace(&own, *rules_->not_the_user, "");
      first_persons[c] = partial(*rules_->first_person, own);
      // After "so" a clause says what follows for the user ("supplier raised prices so dried mango is
      // now ₱195"): it does not continue the one before.
      const bool after_so = text::ascii_lower(sentence.substr(0, clauses[c].first)).ends_with("so ");
      others[c] = !first_persons[c] && (about_someone_else(clause) || (c > 0 && others[c - 1] && !after_so));
    }
    for (const auto& rule : rules_->rules) {
      const RuleSpec& spec = *rule.spec;
      for (size_t c = 0; c < clauses.size(); ++c) {
        const auto [begin, end] = clauses[c];
        const std::string_view clause(sentence.data() + begin, end - begin);
        if (clause.empty()) continue;
        const bool first_person = first_persons[c];
        const bool about_others = others[c];
        if (spec.clause_guards) {
          if (question && spec.shape != Shape::proper) continue;
          if (partial(*rules_->hypothetical, clause) || partial(*rules_->past, clause)) continue;
          if (about_others) continue;
          if (spec.shape == Shape::money && !first_person && partial(*rules_->hearsay, clause)) continue;
        } else if (question && partial(*rules_->hypothetical, clause)) {
          continue;
        }
        re2::StringPiece input(clause.data(), clause.size());
        re2::StringPiece captured;
        size_t pos = 0;
        while (pos < clause.size() && RE2::FindAndConsume(&input, *rule.re, &captured)) {
          pos = static_cast<size_t>(input.data() - clause.data());
          if (captured.data() == nullptr) continue;
          const std::string_view raw(captured.data(), captured.size());
          const std::string_view rest(captured.data(),
                                      static_cast<size_t>(clause.data() + clause.size() - captured.data()));
          std::vector<std::string> values;
          const size_t at = static_cast<size_t>(captured.data() - clause.data());
          switch (spec.shape) {
            case Shape::money: {
              std::string amount = clean_money(std::string(trim(raw)));
              if (spec.key == std::string_view("price") || spec.key == std::string_view("budget")) {
                // A price names its thing first ("the taco plate is $14"), a budget after ("$800 for merch").
                // The words before a budget name the budget itself ("marketing spend is", "the new number
                // is"), not what it is for, so they make no item: one budget restated is one fact.
                const bool budget = spec.key == std::string_view("budget");
                // A budget named as such ("the marketing budget") is that budget whatever it is spent on.
                std::string item = budget_name(clause);
                if (item.empty())
                  item =
                      budget ? item_after(clause.substr(at + raw.size())) : item_before(clause.substr(0, at));
                if (item.empty() && !budget) item = item_after(clause.substr(at + raw.size()));
                // "my goal is $5,000 a month" states a goal, not what anything costs.
                const std::string folded_item = text::ascii_lower(item);
                if (!budget && (folded_item.ends_with("goal") || folded_item.ends_with("target") ||
                                folded_item.ends_with("aim") || folded_item.ends_with("revenue") ||
                                folded_item.ends_with("turnover") || folded_item.ends_with("sales")))
                  break;
                if (item.empty() && spec.needs_item) break;
                if (!item.empty()) amount += " (" + item + ")";
              }
              values.push_back(std::move(amount));
              break;
            }
            case Shape::date: {
              std::string date(trim(raw));
              const std::string folded_date = text::ascii_lower(date);
              if (folded_date == "may" || folded_date == "march" || folded_date == "mar") break;  // the verbs
              if (spec.key == std::string_view("events")) {
                const std::string item = item_before(clause.substr(0, at));
                if (item.empty() || item == "launch" || item == "opening" || item == "it") break;
                date += " (" + item + ")";
              }
              values.push_back(std::move(date));
              break;
            }
            case Shape::count: {
              // "38 clients" is kept as "38 (clients)": one current count per thing counted.
              if (spec.key == std::string_view("counts")) {
                const std::string counted(trim(raw));
                const size_t space = counted.find(' ');
                if (std::isdigit(static_cast<unsigned char>(counted.front()))) {
                  values.push_back(counted.substr(0, space) + " (" +
                                   text::ascii_lower(counted.substr(space + 1)) + ")");
                } else {
                  // "Pupil numbers have risen to 27": the thing first, the number last.
                  const size_t last = counted.find_last_of(' ');
                  values.push_back(counted.substr(last + 1) + " (" +
                                   text::ascii_lower(counted.substr(0, space)) + "s)");
                }
                break;
              }
              // "a catering tray for 20 people" is how many it serves, not how many work here.
              const std::string before = text::ascii_lower(clause.substr(0, at));
              if (spec.key == std::string_view("team_size") &&
                  (before.ends_with("for ") || before.ends_with("up to ") || before.ends_with("serves ") ||
                   before.ends_with("feeds ")))
                break;
              values.emplace_back(trim(raw));
              break;
            }
            case Shape::phrase: {
              std::string_view phrase = rest.substr(0, raw.size());
              // Opening days keep their "and" and their times: "closed monday and tuesday".
              if (spec.key == std::string_view("hours")) {
                values.emplace_back(trim(phrase));
                break;
              }
              // "What makes us different: we teach African music…": what the business does is the USP.
              if (spec.key == std::string_view("usp")) {
                for (const std::string_view pronoun : {"we ", "We ", "i ", "I "}) {
                  if (phrase.starts_with(pronoun)) phrase.remove_prefix(pronoun.size());
                }
              }
              values.push_back(phrase_value(
                  phrase, spec.max_words,
                  spec.key != std::string_view("usp") && spec.key != std::string_view("target_market")
                      ? true
                      : false));
              // "going with Salt & Swell": a chosen name reads as a name, with its "&" and "and".
              if (spec.key == std::string_view("decisions") && !phrase.empty() &&
                  std::isupper(static_cast<unsigned char>(phrase.front()))) {
                std::string name = proper_value(phrase, 5);
                if (name.size() > values.back().size()) values.back() = std::move(name);
              }
              // "Goal: corporate team-building should be 35% of revenue": the number a goal is measured
              // by may follow a verb that ends other phrases; the goal reads on to its clause's end.
              const auto has_digit = [](std::string_view text) {
                return std::any_of(text.begin(), text.end(),
                                   [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)); });
              };
              if (spec.key == std::string_view("goals") && !has_digit(values.back())) {
                const std::string_view clause_part = phrase.substr(0, phrase.find(','));
                const auto words = split_words(clause_part);
                if (has_digit(clause_part) && words.size() <= spec.max_words)
                  values.back() = trim(clause_part);
              }
              break;
            }
            case Shape::proper:
              values.push_back(proper_value(raw, spec.max_words));
              break;
            case Shape::list:
              values = list_values(raw, spec.max_words);
              break;
          }
          // "no worries", "no problem", "no idea": ways of speaking, not options turned down.
          if (spec.key == std::string_view("rejected") && !values.empty()) {
            static constexpr std::string_view kNotOptions[] = {
                "problem", "problems", "worries", "worry", "way",    "idea",    "thanks",
                "rush",    "pressure", "longer",  "more",  "one",    "matter",  "doubt",
                "stress",  "hurry",    "need",    "time",  "money",  "budget",  "luck",
                "clue",    "way",      "kidding", "joke",  "stress", "big deal"};
            const std::string first = text::ascii_lower(values.front().substr(0, values.front().find(' ')));
            if (std::find(std::begin(kNotOptions), std::end(kNotOptions), first) != std::end(kNotOptions))
              continue;
          }
          // "decided against TikTok", "decided not to…", "decided no Amazon" refuse an option: the
          // rejected rules take those, so they are not also a decision for "against".
          if (spec.key == std::string_view("decisions")) {
            const std::string folded_value = text::ascii_lower(trim(raw));
            if (folded_value.starts_with("against") || folded_value.starts_with("not ") ||
                folded_value.starts_with("no ") || folded_value.starts_with("no,") || folded_value == "no")
              continue;
          }
          Cue cue = spec.cue;
          if (cue == Cue::plain && sentence_corrects) cue = Cue::correction;
          if (spec.key == std::string_view("competitors") && sentence_retracts) cue = Cue::retraction;
          for (auto& value : values) {
            if (value.empty() || value.size() > 200) continue;
            // "Biggest competitor now is not IKEA": a rival ruled out, not named.
            Cue value_cue = cue;
            if (spec.key == std::string_view("competitors") && text::ascii_lower(value).starts_with("not ")) {
              value.erase(0, 4);
              value_cue = Cue::retraction;
            }
            // "…competitive landscape: Ledgerly has ceased operations": a rival gone.
            if (std::string gone; spec.key == std::string_view("competitors") &&
                                  RE2::PartialMatch(value, *rules_->departed, &gone)) {
              value = std::move(gone);
              value_cue = Cue::retraction;
            }
            if (spec.shape == Shape::list || spec.shape == Shape::phrase || spec.shape == Shape::proper) {
              const std::string lowered = text::ascii_lower(value);
              const std::string first_word = lowered.substr(0, lowered.find(' '));
              static constexpr std::string_view kPronouns[] = {
                  "it",   "this", "that", "them",  "you",   "me", "us",  "the", "a",
                  "they", "him",  "her",  "these", "those", "he", "she", "its", "it's"};
              if (std::find(std::begin(kPronouns), std::end(kPronouns), first_word) != std::end(kPronouns) &&
                  (lowered == first_word || spec.shape == Shape::list)) {
                continue;
              }
            }
            // "the deadline moved to December" moves a date, not the business.
            if ((spec.key == std::string_view("areas") || spec.key == std::string_view("location")) &&
                RE2::FullMatch(text::ascii_lower(value), *rules_->calendar_word))
              continue;
            if (spec.key == std::string_view("location")) {
              // "in my garage", "in the kitchen": a room, not a place on the map.
              static constexpr std::string_view kNotPlaces[] = {
                  "my", "our", "a", "an", "the", "your", "his", "her", "their", "this", "that", "some"};
              const std::string first_word = text::ascii_lower(value.substr(0, value.find(' ')));
              if (std::find(std::begin(kNotPlaces), std::end(kNotPlaces), first_word) != std::end(kNotPlaces))
                continue;
              // A place is named by words: "moving to £6.50 per seat" moves a price, not the business.
              const std::string_view first(value.data(), std::min(value.find(' '), value.size()));
              const bool numeric = std::any_of(first.begin(), first.end(), [](char ch) {
                return std::isdigit(static_cast<unsigned char>(ch));
              });
              if (numeric || value.starts_with("£") || value.starts_with("€") || value.starts_with("$") ||
                  value.starts_with("₹") || value.starts_with("¥"))
                continue;
            }
            double confidence = spec.confidence;
            if (value_cue == Cue::correction) confidence = std::max(confidence, 0.9);
            out.push_back({spec.key, std::move(value), confidence, value_cue, sentence_at + begin + at});
          }
        }
      }
    }
  }
  // A thing the user gets from someone, switched to a new one: "we switched shampoo to a Québec brand,
  // Chiot Nature" changes what "our shampoo is Iv San Bernard" said. Not a date, a price, a name or a
  // place of the business ("we changed the launch to March", "the shop to Leith").
  {
    re2::StringPiece input(statements);
    std::string thing;
    std::string name;
    static constexpr std::string_view kNotThings[] = {
        "launch", "date",   "opening", "price",    "prices", "name",     "shop",  "store",   "studio",
        "office", "hours",  "day",     "days",     "time",   "schedule", "plan",  "plans",   "menu",
        "logo",   "colour", "color",   "colours",  "colors", "font",     "brand", "website", "site",
        "domain", "event",  "meeting", "location", "base",   "address",  "van",   "truck",   "tagline"};
    while (RE2::FindAndConsume(&input, *rules_->switched_to, &thing, &name)) {
      const std::string folded = text::ascii_lower(thing);
      if (std::find(std::begin(kNotThings), std::end(kNotThings), folded) != std::end(kNotThings) ||
          RE2::FullMatch(text::ascii_lower(name), *rules_->calendar_word))
        continue;
      out.push_back({"person:" + folded, name, 0.85, Cue::correction,
                     static_cast<size_t>(input.data() - statements.data())});
    }
  }
  // Key people: "my designer is Ana" -> person:designer = Ana.
  {
    re2::StringPiece input(statements);
    std::string role;
    std::string name;
    while (RE2::FindAndConsume(&input, *rules_->person, &role, &name)) {
      std::string key = "person:" + text::ascii_lower(role);
      if (key == "person:cofounder") key = "person:co-founder";
      const bool corrects = partial(*rules_->correction, statements);
      out.push_back({std::move(key), name, corrects ? 0.9 : 0.85, corrects ? Cue::correction : Cue::plain,
                     static_cast<size_t>(input.data() - statements.data())});
    }
    input = re2::StringPiece(statements);
    while (RE2::FindAndConsume(&input, *rules_->person_after, &name, &role)) {
      std::string key = "person:" + text::ascii_lower(role);
      if (key == "person:cofounder") key = "person:co-founder";
      out.push_back({std::move(key), name, 0.9, Cue::correction,
                     static_cast<size_t>(input.data() - statements.data())});
    }
  }
  {
    re2::StringPiece input(statements);
    std::string name;
    std::string role;
    const auto offset = [&] { return static_cast<size_t>(input.data() - statements.data()); };
    while (RE2::FindAndConsume(&input, *rules_->departed, &name)) {
      out.push_back({"competitors", name, 0.85, Cue::retraction, offset()});
    }
    const bool no_capitals = std::none_of(statements.begin(), statements.end(),
                                          [](char c) { return std::isupper(static_cast<unsigned char>(c)); });
    static constexpr std::string_view kNotNames[] = {
        "is",      "and",    "the",      "a",   "who",   "does", "will",  "was",  "has",
        "quit",    "left",   "she",      "he",  "they",  "it",   "that",  "this", "what",
        "which",   "also",   "still",    "now", "who's", "whos", "hes",   "shes", "theyre",
        "someone", "nobody", "everyone", "one", "just",  "then", "really"};
    if (no_capitals) {
      input = re2::StringPiece(statements);
      while (RE2::FindAndConsume(&input, *rules_->person_lower, &role, &name)) {
        if (std::find(std::begin(kNotNames), std::end(kNotNames), name) == std::end(kNotNames))
          out.push_back({"person:" + role, name, 0.8, Cue::correction, offset()});
      }
      input = re2::StringPiece(statements);
      while (RE2::FindAndConsume(&input, *rules_->person_after_lower, &name, &role)) {
        if (std::find(std::begin(kNotNames), std::end(kNotNames), name) == std::end(kNotNames))
          out.push_back({"person:" + role, name, 0.85, Cue::correction, offset()});
      }
    }
    input = re2::StringPiece(statements);
    while (RE2::FindAndConsume(&input, *rules_->joins_as, &name, &role)) {
      out.push_back({"person:" + text::ascii_lower(role), name, 0.9, Cue::correction, offset()});
    }
    if (partial(*rules_->name_change, statements)) {
      input = re2::StringPiece(statements);
      while (RE2::FindAndConsume(&input, *rules_->new_name, &name)) {
        const std::string value = proper_value(name, 5);
        if (!value.empty()) out.push_back({"company", value, 0.85, Cue::correction, offset()});
      }
    }
    // One name per job however it is said: "the website" and "the site", "socials" and "social media".
    const auto job_key = [](std::string job) {
      job = text::ascii_lower(job);
      // "our go-to photographer", "our main palenque partner": the same job as "photographer", so a
      // new one replaces the old whichever way each was said.
      for (bool trimmed = true; trimmed;) {
        trimmed = false;
        for (std::string_view lead : {"go-to ", "goto ", "main ", "usual ", "regular ", "current ", "trusty ",
                                      "favourite ", "favorite ", "primary ", "trusted "}) {
          if (job.size() > lead.size() && job.starts_with(lead)) {
            job.erase(0, lead.size());
            trimmed = true;
          }
        }
      }
      if (job == "website" || job == "web site" || job == "web site") return std::string("site");
      if (job == "socials" || job == "social media" || job == "instagram" || job == "insta" || job == "ig" ||
          job == "tiktok")
        return std::string("social");
      if (job == "photography") return std::string("photos");
      if (job == "art" || job == "illustration" || job == "illustrations" || job == "graphics")
        return std::string("artwork");
      if (job == "bookkeeping" || job == "accounts" || job == "finances") return std::string("books");
      if (job == "video") return std::string("videos");
      if (job == "email") return std::string("emails");
      return job;
    };
    input = re2::StringPiece(statements);
    while (RE2::FindAndConsume(&input, *rules_->takes_over, &name, &role)) {
      out.push_back({"person:" + job_key(role), name, 0.85, Cue::correction, offset()});
    }
    if (no_capitals) {
      input = re2::StringPiece(statements);
      while (RE2::FindAndConsume(&input, *rules_->takes_over_lower, &name, &role)) {
        if (std::find(std::begin(kNotNames), std::end(kNotNames), name) == std::end(kNotNames) &&
            !partial(*rules_->first_person, name))
          out.push_back({"person:" + job_key(role), name, 0.8, Cue::correction, offset()});
      }
    }
    // Roles said in any words; a few common words are not roles ("Leeds is our home", "X is our bestseller"
    // stays a fact, harmlessly, under its own words).
    // The thing a role names (its last word) is no person when it is a rival, a customer or a thing.
    static constexpr std::string_view kNotRoles[] = {
        "home",      "thing",      "goal",        "aim",        "plan",     "problem",     "priority",
        "focus",     "name",       "price",       "budget",     "target",   "launch",      "date",
        "deadline",  "opening",    "brand",       "company",    "business", "shop",        "studio",
        "style",     "tone",       "vibe",        "city",       "town",     "location",    "market",
        "website",   "site",       "product",     "bestseller", "flagship", "biggest",     "main",
        "only",      "competitor", "competitors", "rival",      "rivals",   "competition", "customer",
        "customers", "client",     "clients",     "audience",   "channel",  "service",     "offer",
        "niche",     "area",       "value",       "values",     "strength", "weakness",    "usp",
        "favourite", "favorite",   "busiest",     "best",       "worst",    "challenge",   "slogan",
        "tagline",   "mission",    "vision",      "story",      "logo",     "colour",      "color",
        "font"};
    const auto role_key = [&](const std::string& said) -> std::string {
      const std::string role = text::ascii_lower(said);
      const std::string last = role.substr(role.rfind(' ') == std::string::npos ? 0 : role.rfind(' ') + 1);
      const auto listed = [&](const std::string& word) {
        return std::find(std::begin(kNotRoles), std::end(kNotRoles), word) != std::end(kNotRoles);
      };
      if (listed(role) || listed(last)) return {};
      if (role == "cofounder") return "person:co-founder";
      return "person:" + job_key(role);
    };
    // A person under the key their role or job makes, unless the "name" is the user, a joining word or
    // a month.
    const auto add_person = [&](const std::string& key, const std::string& who, double confidence, Cue cue) {
      if (!key.empty() && !partial(*rules_->first_person, who) && !is_boundary(who) &&
          !RE2::FullMatch(text::ascii_lower(who), *rules_->calendar_word))
        out.push_back({key, who, confidence, cue, offset()});
    };
    const Cue stated = partial(*rules_->correction, statements) ? Cue::correction : Cue::plain;
    input = re2::StringPiece(statements);
    while (RE2::FindAndConsume(&input, *rules_->open_role, &name, &role))
      add_person(role_key(role), name, 0.8, stated);
    input = re2::StringPiece(statements);
    while (RE2::FindAndConsume(&input, *rules_->open_role_first, &role, &name))
      add_person(role_key(role), name, 0.8, stated);
    input = re2::StringPiece(statements);
    while (RE2::FindAndConsume(&input, *rules_->steps_up, &name, &role))
      add_person(role_key(role), name, 0.85, Cue::correction);
    // A job in the user's own words ("pack orders", "the deliveries") keys the person who does it.
    const auto job_words = [&](const std::string& said) -> std::string {
      std::string job = text::ascii_lower(said);
      for (std::string_view lead : {"the ", "our ", "with "}) {
        if (job.starts_with(lead)) job.erase(0, lead.size());
      }
      for (bool trimmed = true; trimmed;) {
        trimmed = false;
        for (std::string_view tail : {" on", " in", " at", " for", " with", " to", " from", " and", " the",
                                      " every", " each", " by", " our", " my"}) {
          if (job.size() > tail.size() && job.ends_with(tail)) {
            job.erase(job.size() - tail.size());
            trimmed = true;
          }
        }
      }
      static constexpr std::string_view kNotJobs[] = {"out",  "me",        "us",   "a lot",
                                                      "lots", "sometimes", "when", "if"};
      if (job.empty() || std::find(std::begin(kNotJobs), std::end(kNotJobs), job) != std::end(kNotJobs))
        return {};
      return "person:" + job_key(job);
    };
    for (RE2* rule : {rules_->helps_with.get(), rules_->hired_to.get(), rules_->job_in_brackets.get()}) {
      input = re2::StringPiece(statements);
      while (RE2::FindAndConsume(&input, *rule, &name, &role))
        add_person(job_words(role), name, 0.8, Cue::correction);
    }
    if (partial(*rules_->supply_word, statements)) {
      input = re2::StringPiece(statements);
      while (RE2::FindAndConsume(&input, *rules_->supplier, &name)) {
        const std::string value = proper_value(name, 4);
        if (!value.empty()) out.push_back({"person:supplier", value, 0.8, Cue::correction, offset()});
      }
    }
    input = re2::StringPiece(statements);
    while (RE2::FindAndConsume(&input, *rules_->investor, &name)) {
      if (!partial(*rules_->first_person, name))
        out.push_back({"person:investor", name, 0.85, Cue::plain, offset()});
    }
    std::string item;
    const bool corrects = partial(*rules_->correction, statements);
    // Both rules may read one site ("the second branch will be in Aundh"): the duplicates go below.
    for (const RE2* rule : {rules_->site.get(), rules_->site_named.get()}) {
      input = re2::StringPiece(statements);
      while (RE2::FindAndConsume(&input, *rule, &item, &name)) {
        const std::string place = proper_value(name, 4);
        if (place.empty() || RE2::FullMatch(text::ascii_lower(place), *rules_->calendar_word)) continue;
        out.push_back({"sites", place + " (" + text::ascii_lower(item) + ")", 0.85,
                       corrects ? Cue::correction : Cue::plain, offset()});
      }
    }
    input = re2::StringPiece(statements);
    while (RE2::FindAndConsume(&input, *rules_->product_named, &item, &name)) {
      const std::string value = proper_value(name, 5);
      if (!value.empty() && !ends_item(item))
        out.push_back({"products", value + " (" + text::ascii_lower(item) + ")", 0.85, Cue::plain, offset()});
    }
    input = re2::StringPiece(statements);
    while (RE2::FindAndConsume(&input, *rules_->product_chosen, &name, &item)) {
      const std::string value = proper_value(name, 5);
      if (!value.empty())
        out.push_back(
            {"products", value + " (" + text::ascii_lower(item) + ")", 0.9, Cue::correction, offset()});
    }
  }
  // A money amount read as a budget is not also a price; a launch date is not also an event.
  for (const auto& fact : std::vector<ExtractedFact>(out)) {
    if (fact.key != "budget" && fact.key != "launch_date") continue;
    const std::string other = fact.key == "budget" ? "price" : "events";
    std::erase_if(out, [&](const ExtractedFact& f) {
      return f.key == other && comparable(f.value).starts_with(comparable(fact.value));
    });
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const ExtractedFact& a, const ExtractedFact& b) { return a.position < b.position; });
  // One value per key and value: the most confident reading wins.
  std::vector<ExtractedFact> unique;
  for (auto& fact : out) {
    auto same = std::find_if(unique.begin(), unique.end(), [&](const ExtractedFact& f) {
      return f.key == fact.key && comparable(f.value) == comparable(fact.value);
    });
    if (same == unique.end()) {
      unique.push_back(std::move(fact));
    } else if (fact.confidence > same->confidence) {
      *same = std::move(fact);
    }
  }
  // Opening days said in several parts of one message ("closed monday and tuesday. open wed-sun 11-7")
  // are one answer together.
  {
    std::string joined;
    for (const auto& fact : unique) {
      if (fact.key == "hours" && joined.find(fact.value) == std::string::npos)
        joined += (joined.empty() ? "" : "; ") + fact.value;
    }
    bool kept = false;
    std::erase_if(unique, [&](ExtractedFact& fact) {
      if (fact.key != "hours") return false;
      if (kept) return true;
      fact.value = joined;
      kept = true;
      return false;
    });
  }
  // A single-valued key stated twice in one message: the later statement is the current one
  // ("we were at $49 but now it's $39"), so earlier readings of that key are dropped.
  std::vector<ExtractedFact> result;
  for (size_t i = 0; i < unique.size(); ++i) {
    const auto* spec = key_spec(unique[i].key);
    const bool list = spec && spec->list;
    bool later_same_key = false;
    for (size_t j = i + 1; j < unique.size() && !list; ++j) later_same_key |= unique[j].key == unique[i].key;
    if (!later_same_key || list) result.push_back(std::move(unique[i]));
  }
  return result;
}

bool FactExtractor::about_someone_else(std::string_view clause) const {
  // "Acme charges $60" is about a company, "Subscription goes to 425 kr" about the user's own plan:
  // the sentence's first word is capitalised either way, so a common noun there is lowered first.
  re2::StringPiece word;
  if (RE2::PartialMatch(clause, *rules_->leading_common, &word) && looks_like_common_noun(word)) {
    std::string tamed(clause);
    const auto at = static_cast<size_t>(word.data() - clause.data());
    tamed[at] = static_cast<char>(std::tolower(static_cast<unsigned char>(tamed[at])));
    return partial(*rules_->third_party, tamed);
  }
  return partial(*rules_->third_party, clause);
}

bool FactExtractor::opens_as_question(std::string_view sentence) const {
  // The sentence, or its last comma-separated part ("ok memory test, who's my co-founder again").
  const std::string_view whole = trim(sentence);
  const auto comma = whole.rfind(", ");
  if (partial(*rules_->question_open, whole) && !partial(*rules_->statement_open, whole)) return true;
  if (comma == std::string_view::npos) return false;
  // After a name and a comma, "who"/"which" starts a relative clause about that name ("Kaffa Direkte,
  // who work with farms"), not a question ("ok memory test, who's my co-founder").
  const std::string_view part = trim(whole.substr(comma + 2));
  const std::string_view before = trim(whole.substr(0, comma));
  const auto last_space = before.rfind(' ');
  const std::string_view last_word =
      last_space == std::string_view::npos ? before : before.substr(last_space + 1);
  const bool after_a_name = !last_word.empty() && std::isupper(static_cast<unsigned char>(last_word.front()));
  if (after_a_name && partial(*rules_->relative_clause, part)) return false;
  return !part.empty() && partial(*rules_->question_open, part) && !partial(*rules_->statement_open, part);
}

AnswerKind FactExtractor::answer_kind(std::string_view question) const {
  // Punctuation as spaces, so "hourly rate?" holds " rate ".
  std::string q = " " + text::ascii_lower(question) + " ";
  for (char& c : q) {
    if (std::ispunct(static_cast<unsigned char>(c)) && c != '\'' && c != '$') c = ' ';
  }
  const auto has = [&](std::string_view word) { return q.find(word) != std::string::npos; };
  if (has(" when") || has("what date") || has("which date") || has("what day") || has("which day"))
    return AnswerKind::date;
  if (has("how much") || has("how many dollars") || has(" cost") || has(" price") || has(" budget") ||
      has(" spend") || has(" fee ") || has(" fees ") || has(" rate ") || has(" rates ") ||
      ((has(" charge ") || has(" charging ")) && !has(" in charge ")))
    return AnswerKind::money;
  if (has("how many") || has("how big") || has("headcount") || has("team size")) return AnswerKind::count;
  if (has(" where") || has("which city") || has("what city") || has("which town") || has("what town") ||
      has("which country") || has("what country"))
    return AnswerKind::place;
  return AnswerKind::any;
}

namespace {

// The clause of `sentence` holding `value`: from the comma or semicolon before it to the one after.
std::string_view value_clause(std::string_view sentence, re2::StringPiece value) {
  const auto at = static_cast<size_t>(value.data() - sentence.data());
  const size_t before = sentence.substr(0, at).find_last_of(",;");
  const size_t begin = before == std::string_view::npos ? 0 : before + 1;
  const size_t after = sentence.find_first_of(",;", at + value.size());
  return sentence.substr(begin, after == std::string_view::npos ? std::string_view::npos : after - begin);
}

}  // namespace

std::vector<FactExtractor::Statement> FactExtractor::statements(std::string_view message,
                                                                AnswerKind kind) const {
  std::vector<Statement> out;
  const std::string text = normalise(message);
  for (const auto& said : sentences(text)) {
    const std::string_view sentence = trim(said);
    if (sentence.empty() || ends_as_question(sentence)) continue;
    if (opens_as_question(sentence)) continue;
    std::string own(sentence);
    RE2::GlobalReplace(&own, *rules_->not_the_user, "");
    const bool about_another = !partial(*rules_->first_person, own) && about_someone_else(sentence);
    if (about_another && kind == AnswerKind::any) continue;
    const RE2* value = nullptr;
    switch (kind) {
      case AnswerKind::date:
        value = rules_->date_value.get();
        break;
      case AnswerKind::money:
        value = rules_->money_value.get();
        break;
      case AnswerKind::count:
        value = rules_->count_value.get();
        break;
      case AnswerKind::place:
        value = rules_->place_value.get();
        break;
      case AnswerKind::any:
        break;
    }
    Statement statement{std::string(sentence), {}};
    if (value) {
      re2::StringPiece input(sentence.data(), sentence.size());
      re2::StringPiece found;
      if (!RE2::PartialMatch(input, *value, &found) || found.data() == nullptr) {
        // The date pattern captures its value; the others match without a group.
        if (!partial(*value, sentence)) continue;
      }
      // Someone else in another clause ("going live May 5th, she needed more time") leaves the
      // value the user's own, as long as the sentence opens with the user's subject.
      statement.others_value = found.data() != nullptr && about_someone_else(value_clause(sentence, found));
      statement.others = about_another && (found.data() == nullptr || statement.others_value ||
                                           about_someone_else(sentence.substr(0, sentence.find(','))));
      if (found.data() != nullptr && (kind == AnswerKind::money || kind == AnswerKind::date)) {
        const auto at = static_cast<size_t>(found.data() - sentence.data());
        statement.item = item_before(sentence.substr(0, at));
        if (statement.item.empty() && kind == AnswerKind::money)
          statement.item = item_after(sentence.substr(at + found.size()));
      }
    }
    out.push_back(std::move(statement));
  }
  return out;
}

std::vector<MarkedAmount> amounts_in(std::string_view text) {
  // Built once, read-only after: the same shapes the price rules read.
  static const RE2 amount("(" BC_MARK_BEFORE ") ?(" BC_AMOUNT ")\\b|(" BC_AMOUNT ") ?(" BC_MARK_AFTER ")");
  std::vector<MarkedAmount> found;
  re2::StringPiece groups[5];
  size_t at = 0;
  while (at < text.size() && amount.Match(re2::StringPiece(text.data(), text.size()), at, text.size(),
                                          RE2::UNANCHORED, groups, 5)) {
    const bool before = groups[1].data() != nullptr;
    const re2::StringPiece mark = before ? groups[1] : groups[4];
    found.push_back({clean_money(std::string(groups[0].data(), groups[0].size())),
                     folded_mark({mark.data(), mark.size()})});
    at = static_cast<size_t>(groups[0].data() - text.data()) + std::max<size_t>(groups[0].size(), 1);
  }
  return found;
}

}  // namespace brandcoach::memory
