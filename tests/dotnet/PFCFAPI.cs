// A test double of the broker's PFCF .NET API: the vendor surface the gateway uses, nothing more.
//
// Compiled during the test session with Mono's mcs (tests/support/dotnet.py); never committed as
// a binary. Like the real DLL it raises its events from its own threads (session, trade, query,
// account, quote), and like the real broker its orders, fills and positions outlive the process
// that loaded it: they live in a state file (Exchange.cs) read back at the next login.
//
// Everything test-only is under `PFCFAPI.Double` (DoubleControl.cs): configuration from
// PFCF_DOUBLE_* environment variables and fault injection. The gateway never touches it.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace PFCF
{
    public delegate void MessageHandler(string message);
    public delegate void ConnectionHandler();
    public delegate void TickDataTradeHandler(string COMMODITYID, string InfoTime, string MatchTime,
        string MatchPrice, string MatchBuyCnt, string MatchSellCnt, string MatchQuantity,
        string MatchTotalQty, string MatchPriceData, string MatchQtyData);
    public delegate void TickDataBidOfferHandler(string COMMODITYID,
        string BP1, string BP2, string BP3, string BP4, string BP5,
        string BQ1, string BQ2, string BQ3, string BQ4, string BQ5,
        string SP1, string SP2, string SP3, string SP4, string SP5,
        string SQ1, string SQ2, string SQ3, string SQ4, string SQ5);
    public delegate void ReplyHandler(ReplyData reply);
    public delegate void MatchHandler(MatchData match);
    public delegate void QueryReplyHandler(int count, int recordno, ReplyData reply);
    public delegate void QueryMatchHandler(int count, int recordno, MatchData match);
    public delegate void PositionDataHandler(string count, string recordno, string investorAcno,
        string ProductId, string productKind, string OTQtyB, string OTQtyS, string NowOrderQtyB,
        string NowOrderQtyS, string NowMatchQtyB, string NowMatchQtyS, string TodayEnd,
        string NowOTQtyB, string NowOTQtyS, string RealPrice, string AvgCostB, string AvgCostS,
        string PriceDiffB, string PriceDiffS, string PricePL, string Curren, string LiquidationPL);
    public delegate void ErrorCodeHandler(string ERRORCODE, string MESSAGE);

    public class PFCFAPI
    {
        readonly Core core;

        public event MessageHandler PFCloginStatus;
        public event MessageHandler PFCErrorData;

        public PFCFAPI()
        {
            core = new Core(this, DoubleConfig.FromEnvironment());
            DQuoteLib = new QuoteLib(core);
            DTradeLib = new TradeLib(core);
            DAccountLib = new AccountLib(core);
            NoticeLib = new NoticeLibrary();
            Double = new DoubleControl(core);
        }

        public QuoteLib DQuoteLib { get; private set; }
        public TradeLib DTradeLib { get; private set; }
        public AccountLib DAccountLib { get; private set; }
        public NoticeLibrary NoticeLib { get; private set; }
        public DoubleControl Double { get; private set; }

        public string[] UserOrderSet
        {
            get { return core.LoggedIn ? core.Config.Accounts.ToArray() : new string[0]; }
        }

        /// The answer comes later, as a PFCloginStatus event from the session thread.
        public void PFCLogin(string account, string password, string ip)
        {
            core.Login(account ?? "", password ?? "", ip ?? "");
        }

        public void PFCLogout()
        {
            core.Logout();
        }

        public FutureData[] PFCGetFutureData(string code)
        {
            if (!core.LoggedIn) return new FutureData[0];
            return core.Config.Symbols
                .Where(symbol => string.IsNullOrEmpty(code) || symbol == code)
                .Select(symbol => FutureData.Of(symbol, core.Exchange.LastPrice(symbol)))
                .ToArray();
        }

        internal void RaiseLoginStatus(string message)
        {
            var handler = PFCloginStatus;
            if (handler != null) handler(message);
        }

        internal void RaiseErrorData(string message)
        {
            var handler = PFCErrorData;
            if (handler != null) handler(message);
        }
    }

    public class QuoteLib
    {
        readonly Core core;
        internal QuoteLib(Core core) { this.core = core; }

        public event ConnectionHandler OnConnected;
        public event ConnectionHandler OnDisconnected;
        public event TickDataTradeHandler OnTickDataTrade;
        public event TickDataBidOfferHandler OnTickDataBidOffer;

        public void RegItem(string commodityId) { core.Register(commodityId); }
        public void UnRegItem(string commodityId) { core.Unregister(commodityId); }

        internal void RaiseConnection(bool up)
        {
            var handler = up ? OnConnected : OnDisconnected;
            if (handler != null) handler();
        }

        internal void RaiseTick(string symbol, int price, int quantity, long totalQuantity)
        {
            var handler = OnTickDataTrade;
            if (handler == null) return;
            string now = DateTime.Now.ToString("HHmmssfff", CultureInfo.InvariantCulture);
            handler(symbol, now, now, Text.Of(price), "1", "1", Text.Of(quantity),
                totalQuantity.ToString(CultureInfo.InvariantCulture), "", "");
            var book = OnTickDataBidOffer;
            if (book == null) return;
            string bid = Text.Of(price - 1), ask = Text.Of(price + 1);
            book(symbol, bid, "", "", "", "", "1", "", "", "", "", ask, "", "", "", "", "1", "", "", "", "");
        }

        internal void RaiseRawTick(string symbol, string price)
        {
            var handler = OnTickDataTrade;
            if (handler != null) handler(symbol, "", "", price, "", "", "1", "", "", "");
        }
    }

    public class TradeLib
    {
        readonly Core core;
        internal TradeLib(Core core) { this.core = core; }

        public event ConnectionHandler OnConnected;
        public event ConnectionHandler OnDisconnected;
        public event ReplyHandler OnReply;
        public event MatchHandler OnMatch;
        public event QueryReplyHandler OnQueryReply;
        public event QueryMatchHandler OnQueryMatch;

        /// Sends the order: ISSEND false when it never left (nothing is recorded); otherwise the
        /// exchange's answer follows as OnReply (and OnMatch for fills) on the trade thread.
        public DTrade.OrderResult Order(DTrade.OrderObject order) { return core.Order(order); }

        /// Cancels (ReplaceType Cancel) an open order by ORDERNO; the answer follows as OnReply.
        public DTrade.OrderResult Replace(DTrade.ReplaceObject replace) { return core.Replace(replace); }

        /// Every order of ACTNO, one OnQueryReply per order (count 0 and a null record: none).
        public void QueryReply(string actno) { core.QueryReplies(actno ?? ""); }

        /// Every fill of ACTNO, one OnQueryMatch per fill (count 0 and a null record: none).
        public void QueryMatch(string actno) { core.QueryMatches(actno ?? ""); }

        internal void RaiseConnection(bool up)
        {
            var handler = up ? OnConnected : OnDisconnected;
            if (handler != null) handler();
        }

        internal void RaiseReply(ReplyData reply) { var h = OnReply; if (h != null) h(reply); }
        internal void RaiseMatch(MatchData match) { var h = OnMatch; if (h != null) h(match); }

        internal void RaiseQueryReply(int count, int recordno, ReplyData reply)
        {
            var handler = OnQueryReply;
            if (handler != null) handler(count, recordno, reply);
        }

        internal void RaiseQueryMatch(int count, int recordno, MatchData match)
        {
            var handler = OnQueryMatch;
            if (handler != null) handler(count, recordno, match);
        }
    }

    public class AccountLib
    {
        readonly Core core;
        internal AccountLib(Core core) { this.core = core; }

        public event ConnectionHandler OnConnected;
        public event ConnectionHandler OnDisconnected;
        public event PositionDataHandler OnPositionData;
        public event ErrorCodeHandler OnPositionError;

        /// One OnPositionData per product of ACTNO (count "0" once when it has none).
        public void GetPosition(string actno, string productId) { core.QueryPositions(actno ?? "", productId ?? ""); }

        internal void RaiseConnection(bool up)
        {
            var handler = up ? OnConnected : OnDisconnected;
            if (handler != null) handler();
        }

        internal void RaisePosition(int count, int recordno, string account, PositionView p)
        {
            var handler = OnPositionData;
            if (handler == null) return;
            if (p == null)
            {
                handler("0", "0", account, "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "");
                return;
            }
            handler(Text.Of(count), Text.Of(recordno), account, p.Symbol, "F", "0", "0",
                Text.Of(p.BoughtToday), Text.Of(p.SoldToday), Text.Of(p.BoughtToday),
                Text.Of(p.SoldToday), "0", Text.Of(p.Long), Text.Of(p.Short), Text.Of(p.LastPrice),
                p.Long > 0 ? Text.Of(p.Average) : "0", p.Short > 0 ? Text.Of(p.Average) : "0",
                "0", "0", "0", "NTD", "0");
        }

        internal void RaisePositionError(string code, string message)
        {
            var handler = OnPositionError;
            if (handler != null) handler(code, message);
        }
    }

    public class NoticeLibrary
    {
        public event ConnectionHandler OnConnected;
        public event ConnectionHandler OnDisconnected;

        internal void RaiseConnection(bool up)
        {
            var handler = up ? OnConnected : OnDisconnected;
            if (handler != null) handler();
        }
    }

    /// An order report, as OnReply and OnQueryReply carry it (every field is text).
    public class ReplyData
    {
        public string orderNo { get; set; }
        public string investorAcno { get; set; }
        public string orderTime { get; set; }
        public string BS { get; set; }
        public string productId { get; set; }
        public string matchQty { get; set; }
        public string NoMatchQty { get; set; }
        public string DelQty { get; set; }
        public string orderStatus { get; set; }
        public string Statuscode { get; set; }
        public string orderPrice { get; set; }
        public string orderQty { get; set; }
        public string OpenOffSetFlag { get; set; }
        public string OrderCondition { get; set; }
        public string dtrade { get; set; }
        public string note { get; set; }
        public string seq { get; set; }
        public string ORDERTYPE { get; set; }
        public string LastMatchPrice { get; set; }
        public string LastMatchQty { get; set; }
        public string LastMatchseq { get; set; }
    }

    /// A fill report, as OnMatch and OnQueryMatch carry it.
    public class MatchData
    {
        public string investorAcno { get; set; }
        public string orderNo { get; set; }
        public string matchTime { get; set; }
        public string BS { get; set; }
        public string productId { get; set; }
        public string MatchPrice { get; set; }
        public string MatchQty { get; set; }
        public string matchseq { get; set; }
        public string note { get; set; }
    }

    /// One listed future, as PFCGetFutureData returns it.
    public class FutureData
    {
        public string COMMODITYID { get; set; }
        public string desc { get; set; }
        public string month { get; set; }
        public string Class { get; set; }
        public string MaxPrice { get; set; }
        public string MinPrice { get; set; }
        public string Premium { get; set; }

        internal static FutureData Of(string symbol, int lastPrice)
        {
            string product = symbol.Substring(0, 3);
            int month = symbol[3] - 'A' + 1;
            return new FutureData
            {
                COMMODITYID = symbol,
                desc = product == "TXF" ? "臺股期貨" : product == "MXF" ? "小型臺指" : "微型臺指",
                month = "202" + symbol[4] + month.ToString("00", CultureInfo.InvariantCulture),
                Class = product,
                MaxPrice = Text.Of(lastPrice + lastPrice / 10),
                MinPrice = Text.Of(lastPrice - lastPrice / 10),
                Premium = Text.Of(lastPrice),
            };
        }
    }

    /// The order request types and their enumerations.
    public static class DTrade
    {
        public enum SideEnum { Buy = 66, Sell = 83 }
        public enum OrderTypeEnum { Market = 77, Limit = 76, MarketPrice = 80 }
        public enum TimeInForceEnum { ROD = 82, IOC = 73, FOK = 70 }
        public enum OpenCloseEnum { Y = 89, N = 78, AUTO = 65 }
        public enum DayTradeEnum { Y = 89, N = 78 }
        public enum ReplaceTypeEnum { Decrease = 0, Cancel = 1, ChangePrice = 2 }

        public class OrderObject
        {
            public string ACTNO { get; set; }
            public string PRODUCTID { get; set; }
            public SideEnum BS { get; set; }
            public OrderTypeEnum ORDERTYPE { get; set; }
            public decimal PRICE { get; set; }
            public int ORDERQTY { get; set; }
            public TimeInForceEnum TIMEINFORCE { get; set; }
            public OpenCloseEnum OPENCLOSE { get; set; }
            public DayTradeEnum DTRADE { get; set; }
            public string NOTE { get; set; }
        }

        public class ReplaceObject
        {
            public string ACTNO { get; set; }
            public string ORDERNO { get; set; }
            public ReplaceTypeEnum REPLACETYPE { get; set; }
            public decimal PRICE { get; set; }
            public int ORDERQTY { get; set; }
            public string NOTE { get; set; }
        }

        public class OrderResult
        {
            public bool ISSEND { get; set; }
            public string SEQ { get; set; }
            public string ERRORCODE { get; set; }
            public string ERRORMSG { get; set; }
            public string NOTE { get; set; }
        }
    }

    static class Text
    {
        public static string Of(int value) { return value.ToString(CultureInfo.InvariantCulture); }
        public static string Of(long value) { return value.ToString(CultureInfo.InvariantCulture); }
        public static string Of(decimal value) { return value.ToString(CultureInfo.InvariantCulture); }
    }
}
