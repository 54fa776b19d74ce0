#include "diagnose/fingerprint.hpp"

#include <gtest/gtest.h>

namespace dbmedic::diagnose {
namespace {

TEST(NormalizeQuery, ReplacesNumbersAndStrings) {
  EXPECT_EQ(NormalizeQuery("SELECT * FROM t WHERE id = 42 AND name = 'bob'"),
            "select * from t where id = ? and name = ?");
}

TEST(NormalizeQuery, IgnoresWhitespaceAndCase) {
  EXPECT_EQ(NormalizeQuery("select  *\n\tFROM   T where ID=1"),
            NormalizeQuery("SELECT * FROM t WHERE id = 2"));
}

TEST(NormalizeQuery, DropsLineAndBlockComments) {
  EXPECT_EQ(NormalizeQuery("/* app:web */ SELECT 1 -- trailing\n FROM t /* a /* nested */ b */"),
            "select ? from t");
}

TEST(NormalizeQuery, CollapsesInListsOfAnyLength) {
  EXPECT_EQ(NormalizeQuery("SELECT * FROM t WHERE id IN (1, 2, 3)"),
            "select * from t where id in (...)");
  EXPECT_EQ(NormalizeQuery("SELECT * FROM t WHERE id IN (7)"),
            NormalizeQuery("select * from t where id in (1,2,3,4,5,6,7,8,9)"));
}

TEST(NormalizeQuery, CollapsesParameterLists) {
  EXPECT_EQ(NormalizeQuery("SELECT * FROM t WHERE id IN ($1, $2, $3)"),
            "select * from t where id in (...)");
}

TEST(NormalizeQuery, ParametersBecomePlaceholders) {
  EXPECT_EQ(NormalizeQuery("UPDATE t SET v = $1 WHERE id = $12"), "update t set v = ? where id = ?");
}

TEST(NormalizeQuery, CollapsesMultiRowValues) {
  EXPECT_EQ(NormalizeQuery("INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'), (3, 'z')"),
            "insert into t (a, b) values (...)");
  EXPECT_EQ(NormalizeQuery("INSERT INTO t (a, b) VALUES (1, 'x')"),
            "insert into t (a, b) values (...)");
}

TEST(NormalizeQuery, KeepsColumnListsThatAreNotLiterals) {
  EXPECT_EQ(NormalizeQuery("SELECT coalesce(a, b) FROM t"), "select coalesce (a, b) from t");
}

TEST(NormalizeQuery, EscapedQuotesStayInsideTheLiteral) {
  EXPECT_EQ(NormalizeQuery("SELECT 'it''s -- not a comment' FROM t"), "select ? from t");
  EXPECT_EQ(NormalizeQuery("SELECT E'a\\'b' FROM t"), "select ? from t");
}

TEST(NormalizeQuery, DollarQuotedBodiesAreLiterals) {
  EXPECT_EQ(NormalizeQuery("DO $body$ BEGIN PERFORM 1; END $body$"), "do ?");
  EXPECT_EQ(NormalizeQuery("SELECT $$a'b$$"), "select ?");
}

TEST(NormalizeQuery, TypedLiteralsAndCasts) {
  EXPECT_EQ(NormalizeQuery("SELECT x'1F', B'101', now() - interval '1 day', '5'::int"),
            "select ?, ?, now () - interval ?, ?::int");
}

TEST(NormalizeQuery, NegativeNumbersAreOneLiteral) {
  EXPECT_EQ(NormalizeQuery("SELECT * FROM t WHERE a = -5 AND b > -0.5"),
            "select * from t where a = ? and b > ?");
  EXPECT_EQ(NormalizeQuery("SELECT a-1 FROM t"), "select a - ? from t");
  EXPECT_EQ(NormalizeQuery("SELECT * FROM t WHERE a=-1"), "select * from t where a = ?");
}

TEST(NormalizeQuery, ScientificAndDecimalNumbers) {
  EXPECT_EQ(NormalizeQuery("SELECT 1.5e10, .25, 3"), "select ?, ?, ?");
}

TEST(NormalizeQuery, QuotedIdentifiersKeepTheirCase) {
  EXPECT_EQ(NormalizeQuery("SELECT \"MyCol\" FROM \"Weird\"\"Table\""),
            "select \"MyCol\" from \"Weird\"\"Table\"");
}

TEST(NormalizeQuery, QualifiedNamesHaveNoSpacesAroundDots) {
  EXPECT_EQ(NormalizeQuery("SELECT t . id FROM public . t"), "select t.id from public.t");
}

TEST(NormalizeQuery, TrailingSemicolonDropped) {
  EXPECT_EQ(NormalizeQuery("SELECT 1;  "), "select ?");
}

TEST(NormalizeQuery, ArrayLiteralsCollapse) {
  EXPECT_EQ(NormalizeQuery("SELECT * FROM t WHERE id = ANY(ARRAY[1,2,3])"),
            "select * from t where id = any (array [...])");
}

TEST(NormalizeQuery, UnterminatedLiteralDoesNotOverrun) {
  EXPECT_EQ(NormalizeQuery("SELECT 'unterminated"), "select ?");
  EXPECT_EQ(NormalizeQuery("SELECT 1 /* open comment"), "select ?");
}

TEST(NormalizeQuery, EmptyInput) { EXPECT_EQ(NormalizeQuery("  \n "), ""); }

TEST(FingerprintOf, SameForEquivalentStatements) {
  auto a = FingerprintOf(NormalizeQuery("select * from t where id in (1,2)"));
  auto b = FingerprintOf(NormalizeQuery("SELECT *\nFROM t\nWHERE id IN ($1)"));
  auto c = FingerprintOf(NormalizeQuery("select * from u where id in (1,2)"));
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(FingerprintHex, SixteenLowerCaseDigits) {
  EXPECT_EQ(FingerprintHex(0xABCULL), "0000000000000abc");
}

TEST(NormalizeMessage, GroupsQuotedNamesAndNumbers) {
  EXPECT_EQ(NormalizeMessage("relation \"t1\" does not exist"), "relation \"?\" does not exist");
  EXPECT_EQ(NormalizeMessage("value 42 out of range for int2"), "value ? out of range for int2");
}

}  // namespace
}  // namespace dbmedic::diagnose
